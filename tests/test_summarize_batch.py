"""The batched map step: the same part summaries as one part at a time, progress per part done,
and a cancel that ends the summary in one event."""

from __future__ import annotations

import threading

import pytest

import mlx_model
from llama_chat.chat.conversation import GenerationSettings
from llama_chat.chat.summarize import summarize
from llama_chat.events import SummaryProgress, TextDelta, TurnFinished

DOCUMENT = "\n\n".join(
    f"Section {i}. " + f"Report {i} covers budgets, hiring and the launch date. " * 12
    for i in range(6)
)
SETTINGS = GenerationSettings(mlx_model.SamplingParams(), max_tokens=10, context_limit=400)


@pytest.fixture(scope="module")
def f32(tiny_f32):
    return mlx_model.load(tiny_f32)


def run(model, tok, batch_size, cancel=None, on_event=None):
    events = []

    def emit(event):
        events.append(event)
        if on_event is not None:
            on_event(event)

    finished = summarize(
        model,
        tok,
        DOCUMENT,
        settings=SETTINGS,
        emit=emit,
        cancel=cancel,
        batch_size=batch_size,
        date_string="1 December 2026",
    )
    return finished, events


def test_batched_map_gives_the_summary_of_one_part_at_a_time(f32):
    model, tok = f32
    batched, batched_events = run(model, tok, batch_size=4)
    single, single_events = run(model, tok, batch_size=1)
    assert batched.finish_reason == single.finish_reason
    assert batched.text == single.text
    maps = [e for e in batched_events if isinstance(e, SummaryProgress) and e.stage == "map"]
    assert maps[0].total > 4  # more parts than one batch holds


def test_progress_counts_each_part_as_it_is_done(f32):
    model, tok = f32
    _, events = run(model, tok, batch_size=4)
    rounds: dict[int, list[int]] = {}
    for e in events:
        if isinstance(e, SummaryProgress) and e.stage == "map":
            done = rounds.setdefault(e.total, [])
            if not done or done[-1] != e.done:  # reading the parts repeats the count
                done.append(e.done)
    for total, done in rounds.items():
        assert done == list(range(total + 1))
    assert [e for e in events if isinstance(e, TurnFinished)][-1].finish_reason != "cancelled"
    # Part summaries never stream as text: only the final answer does.
    final = [e for e in events if isinstance(e, TurnFinished)]
    assert len(final) == 1
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == final[0].text


def test_cancel_during_the_map_step_ends_the_summary_once(f32):
    model, tok = f32
    cancel = threading.Event()

    def after_first_part(event):
        if isinstance(event, SummaryProgress) and event.stage == "map" and event.done == 1:
            cancel.set()

    finished, events = run(model, tok, batch_size=4, cancel=cancel, on_event=after_first_part)
    assert finished.finish_reason == "cancelled"
    assert [e for e in events if isinstance(e, TurnFinished)] == [finished]
    assert not any(isinstance(e, SummaryProgress) and e.stage == "reduce" for e in events)
    assert not any(isinstance(e, TextDelta) for e in events)


def test_progress_shows_the_parts_being_read_before_the_first_is_done(f32):
    model, tok = f32
    _, events = run(model, tok, batch_size=4)
    maps = [e for e in events if isinstance(e, SummaryProgress) and e.stage == "map"]
    before_first = [e for e in maps if e.done == 0 and e.tokens_read]
    assert len(before_first) >= 2  # several steps of reading, each with its token count
    reads = [e.tokens_read for e in before_first]
    assert reads == sorted(reads) and reads[-1] <= before_first[0].tokens_total
