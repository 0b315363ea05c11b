"""Batched generation: the same tokens as one prompt at a time, rows that finish on their own."""

from __future__ import annotations

import threading

import mlx.core as mx
import pytest

import mlx_model
from mlx_model.batch import MAX_BATCH, BatchStats, batch_generate, batch_size_for
from mlx_model.generate import prefill

NEAR_TIE = 1e-3
"""A batched forward adds in another order; only a top-2 gap below this may tip the choice."""


@pytest.fixture(scope="module")
def f32(tiny_f32):
    return mlx_model.load(tiny_f32)


def prompts_with_prefix(tok, count: int) -> list[list[int]]:
    head = tok.encode("You summarise documents. Here is part", bos=True)
    return [
        head + tok.encode(f" {i}: " + "notes about the plan " * (2 * i + 1)) for i in range(count)
    ]


def one_at_a_time(model, prompts, limits, stop_ids) -> list[list[int]]:
    """The reference: each prompt alone (the engine's prefill, then one token per forward),
    one cache shared by all prompts as the summariser shares it."""
    cache = model.make_cache()
    out = []
    for prompt, limit in zip(prompts, limits, strict=True):
        logits = prefill(model, cache, prompt)
        tokens: list[int] = []
        while len(tokens) < limit:
            token = mx.argmax(logits, axis=-1).item()
            if token in stop_ids:
                break
            tokens.append(token)
            logits = model.last_logits(mx.array([[token]], dtype=mx.int32), cache)
            cache.commit([token])
        out.append(tokens)
    return out


def top2_gap(model, prompt: list[int], generated: list[int], step: int) -> float:
    """The reference's float32 gap between its two best logits at ``step``, teacher-forced."""
    ids = mx.array(prompt + generated[:step], dtype=mx.int32)[None]
    logits = model.last_logits(ids).astype(mx.float32)[0]
    best = mx.sort(logits)[-2:].tolist()
    return best[1] - best[0]


def assert_same_up_to_near_ties(model, prompt, reference, got):
    """Equal token for token, or parted only where the reference had a genuine near-tie."""
    for step, (want, have) in enumerate(zip(reference, got, strict=False)):
        if want != have:
            gap = top2_gap(model, prompt, reference, step)
            assert gap < NEAR_TIE, f"parted at step {step} with a top-2 gap of {gap:.2e}"
            return
    assert len(got) == len(reference)


def test_greedy_batch_matches_one_prompt_at_a_time(f32):
    model, tok = f32
    prompts = prompts_with_prefix(tok, 4)
    limits = [24, 12, 24, 17]  # rows of different prompt lengths and answer limits
    rows = batch_generate(model, prompts, max_tokens=limits, stop_ids=tok.eos_token_ids)
    reference = one_at_a_time(model, prompts, limits, tok.eos_token_ids)
    for prompt, want, row in zip(prompts, reference, rows, strict=True):
        assert_same_up_to_near_ties(model, prompt, want, row.tokens)
    assert [r.finish_reason for r in rows] == ["length"] * 4
    assert [len(r.tokens) for r in rows] == limits


def test_rows_with_no_common_prefix_and_padding_stay_finite(f32):
    # No shared prefix: padding positions at the start of a row see only themselves.
    model, tok = f32
    prompts = [tok.encode("Short."), tok.encode("A much longer prompt about " + "trees " * 12)]
    rows = batch_generate(model, prompts, max_tokens=12, stop_ids=tok.eos_token_ids)
    reference = one_at_a_time(model, prompts, [12, 12], tok.eos_token_ids)
    for prompt, want, row in zip(prompts, reference, rows, strict=True):
        assert_same_up_to_near_ties(model, prompt, want, row.tokens)


def test_a_row_that_stops_leaves_the_others_unchanged(f32):
    model, tok = f32
    prompts = prompts_with_prefix(tok, 3)
    free = one_at_a_time(model, prompts, [16, 16, 16], tok.eos_token_ids)
    stop = free[1][6]  # row 1 stops where it would have produced this token
    stop_ids = [stop]
    rows = batch_generate(model, prompts, max_tokens=16, stop_ids=stop_ids)
    reference = one_at_a_time(model, prompts, [16, 16, 16], stop_ids)
    assert rows[1].finish_reason == "stop"
    assert stop not in rows[1].tokens
    for prompt, want, row in zip(prompts, reference, rows, strict=True):
        assert_same_up_to_near_ties(model, prompt, want, row.tokens)


def test_shared_prefix_is_prefilled_once_and_kept_in_the_cache(f32):
    model, tok = f32
    prompts = prompts_with_prefix(tok, 3)
    shared = next(j for j, ids in enumerate(zip(*prompts, strict=False)) if len(set(ids)) > 1)
    cache = model.make_cache()
    stats = BatchStats()
    batch_generate(model, prompts, cache=cache, max_tokens=4, stats=stats, stop_ids=[])
    assert cache.tokens == prompts[0][:shared]
    assert stats.prompt_tokens == shared + sum(len(p) - shared for p in prompts)
    # A second batch with the same prefix prefills only the rows' own tokens.
    again = BatchStats()
    batch_generate(model, prompts, cache=cache, max_tokens=4, stats=again, stop_ids=[])
    assert again.prompt_tokens == sum(len(p) - shared for p in prompts) + 1


def test_finished_rows_leave_the_batch(f32):
    model, tok = f32
    stats = BatchStats()
    prompts = prompts_with_prefix(tok, 3)
    batch_generate(model, prompts, max_tokens=[3, 6, 9], stats=stats, stop_ids=[])
    assert stats.row_steps == [3, 3, 2, 2, 2, 1, 1, 1]
    assert stats.generated_tokens == 18


def test_cancel_ends_every_unfinished_row(f32):
    model, tok = f32
    cancel = threading.Event()
    done = []

    def on_row_done(i, row):
        done.append(i)
        cancel.set()

    rows = batch_generate(
        model,
        prompts_with_prefix(tok, 3),
        stop_ids=[],
        max_tokens=[2, 50, 50],
        cancel=cancel,
        on_row_done=on_row_done,
    )
    assert rows[0].finish_reason == "length"
    assert [r.finish_reason for r in rows[1:]] == ["cancelled", "cancelled"]
    assert all(len(r.tokens) < 50 for r in rows[1:])
    assert sorted(done) == [0, 1, 2]


def test_a_cancel_before_the_batch_starts_ends_every_row_at_once(f32):
    model, tok = f32
    cancel = threading.Event()
    cancel.set()
    stats = BatchStats()
    rows = batch_generate(
        model, prompts_with_prefix(tok, 2), stop_ids=[], max_tokens=50, cancel=cancel, stats=stats
    )
    assert [r.finish_reason for r in rows] == ["cancelled", "cancelled"]
    assert all(len(r.tokens) <= 1 for r in rows)
    assert stats.row_steps == []


def test_quantized_weights_batch_like_one_at_a_time(tiny_4bit):
    model, tok = mlx_model.load(tiny_4bit, dtype=mx.float32)
    prompts = prompts_with_prefix(tok, 2)
    rows = batch_generate(model, prompts, max_tokens=16, stop_ids=tok.eos_token_ids)
    reference = one_at_a_time(model, prompts, [16, 16], tok.eos_token_ids)
    for prompt, want, row in zip(prompts, reference, rows, strict=True):
        assert_same_up_to_near_ties(model, prompt, want, row.tokens)


def test_batch_size_follows_free_memory(f32):
    config = f32[0].config
    row = mlx_model.memory_needed(config, None, 8192, None).kv_bytes
    assert batch_size_for(config, 8192, free_bytes=0) == 1
    assert batch_size_for(config, 8192, free_bytes=row * 10) == 4  # half of it, less logits
    assert batch_size_for(config, 8192, free_bytes=row * 10_000) == MAX_BATCH


def test_empty_prompts_and_bad_limits_are_refused(f32):
    model, tok = f32
    with pytest.raises(ValueError, match="at least one token"):
        batch_generate(model, [[1, 2], []], stop_ids=[])
    with pytest.raises(ValueError, match="once per prompt"):
        batch_generate(model, [[1, 2], [3]], max_tokens=[4], stop_ids=[])


def test_trained_weights_batch_like_one_at_a_time(smollm2_checkpoint):
    # Trained weights have far fewer near-ties than random ones: this is the strict check.
    from tokenizers import Tokenizer as HFTokenizer

    model = mlx_model.load_model(smollm2_checkpoint, dtype=mx.float32)
    hf = HFTokenizer.from_file(str(smollm2_checkpoint / "tokenizer.json"))
    head = "<|im_start|>system\nYou summarise documents.<|im_end|>\n<|im_start|>user\n"
    texts = [
        "Summarise: the budget grew by 4 percent and hiring slowed.",
        "Summarise: Dana will report on the supplier contract on day 12, after the safety "
        "review found two problems with the loading dock.",
        "Summarise: the launch moved to May.",
    ]
    prompts = [hf.encode(head + t + "<|im_end|>\n<|im_start|>assistant\n").ids for t in texts]
    stops = list(model.config.eos_token_ids)
    rows = batch_generate(model, prompts, max_tokens=8, stop_ids=stops)
    reference = one_at_a_time(model, prompts, [8] * 3, stops)
    for prompt, want, row in zip(prompts, reference, rows, strict=True):
        assert_same_up_to_near_ties(model, prompt, want, row.tokens)


def test_reading_long_prompts_reports_progress_and_stops_within_one_forward(f32):
    model, tok = f32
    prompts = [tok.encode(f"{i} " + "word " * n) for i, n in enumerate((900, 1200, 1000))]
    seen: list[tuple[int, int]] = []
    forwards_then: list[int] = []
    cancel = threading.Event()
    stats = BatchStats()

    def on_prefill(read: int, total: int) -> None:
        seen.append((read, total))
        if len(seen) == 3:  # Esc, partway through reading
            cancel.set()
            forwards_then.append(stats.forwards)

    rows = batch_generate(
        model,
        prompts,
        stop_ids=tok.eos_token_ids,
        max_tokens=4,
        cancel=cancel,
        on_prefill=on_prefill,
        stats=stats,
    )
    assert [row.finish_reason for row in rows] == ["cancelled"] * 3
    assert len(seen) == 3 and stats.forwards == forwards_then[0]  # no forward after Esc
    reads = [read for read, _ in seen]
    assert reads == sorted(reads) and 0 < reads[0] < seen[0][1]
    assert {total for _, total in seen} == {sum(len(p) for p in prompts)}
