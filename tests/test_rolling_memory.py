"""Rolling memory: the turns a long chat drops, summarised into a note the model keeps reading."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

import mlx_model
from llama_chat.chat.conversation import ChatMessage, Conversation, GenerationSettings
from llama_chat.chat.memory import (
    FAILED,
    NOTE_INSTRUCTION,
    NOTE_LABEL,
    SUMMARISING,
    RollingMemory,
    sync_memory,
)
from llama_chat.chat.summarize import SummaryError, summarize
from llama_chat.controller import ChatController
from llama_chat.events import Notice, TurnStarted
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore

# Its module fixtures take seconds to build: with -n 2 the module's tests go to one worker
# (--dist loadgroup), which builds them once, rather than each worker building them.
pytestmark = pytest.mark.xdist_group("rolling-memory")

GREEDY = mlx_model.SamplingParams(temperature=0.0)
LIMIT = 512
SETTINGS = GenerationSettings(sampling=GREEDY, max_tokens=8, context_limit=LIMIT)
SYSTEM = "You are terse."
NOTE_TOKENS = 32  # shorter notes than the app's: the same code, less to generate


@pytest.fixture(scope="module")
def engine(tiny_4bit):
    return mlx_model.load(tiny_4bit)


def run_chat(engine, memory: RollingMemory | None, turns: int = 20):
    """``turns`` turns through a 512-token window: (conversation, per-turn records)."""
    model, tokenizer = engine
    conversation = Conversation(
        model, tokenizer, system_prompt=SYSTEM, settings=SETTINGS, date_string="23 Nov 2026"
    )
    conversation.memory = memory
    records = []
    for i in range(turns):
        message = conversation.add_user(f"Turn {i}: remember the colour number {i} and words.")
        message.id = 1000 + i  # as if saved: notes are keyed by a message's row id
        stats = conversation.respond(lambda e: None).stats
        note = memory.note if memory is not None else ""
        records.append(
            (conversation.window_start, note, conversation.encode(), stats.prompt_tokens,
             stats.prompt_tokens - stats.cached_tokens)
        )  # fmt: skip
    return conversation, records


@pytest.fixture(scope="module")
def remembering(engine):
    saved: list[tuple[int, str]] = []
    memory = RollingMemory(
        save=lambda key, note: saved.append((key, note)), note_tokens=NOTE_TOKENS
    )
    conversation, records = run_chat(engine, memory)
    return conversation, records, saved


def test_an_overflowing_chat_reads_a_note_summarising_the_dropped_turns(engine, remembering):
    conversation, records, _ = remembering
    model, tokenizer = engine
    first_drop = next(i for i, r in enumerate(records) if r[0] > 0)
    start, note, prompt, _, _ = records[first_drop]
    assert note, "the drop must leave a note"
    # The note is the model's own summary of the dropped turns (summarize() as the oracle)...
    transcript = "\n\n".join(
        f"{'User' if m.role == 'user' else 'Assistant'}: {m.content}"
        for m in conversation.messages[:start]
    )
    expected = summarize(
        model,
        tokenizer,
        transcript,
        instruction=NOTE_INSTRUCTION,
        settings=replace(SETTINGS, max_tokens=NOTE_TOKENS),
        emit=lambda e: None,
        date_string="23 Nov 2026",
    )
    assert expected.text.strip().startswith(note)  # cut to the note's size in prompt tokens
    assert 0 < len(tokenizer.encode(note)) <= NOTE_TOKENS  # a few sentences at most
    # ... and the prompt reads it right after the system prompt, before the oldest turn kept.
    text = tokenizer.decode(prompt)
    assert f"{SYSTEM}\n\n{NOTE_LABEL} {note}" in text
    assert text.index(note) < text.index(conversation.messages[start].content)
    assert all(note not in tokenizer.decode(r[2]) for r in records[:first_drop])


def test_each_later_drop_renews_the_note_and_saves_it_under_the_new_window_start(remembering):
    conversation, records, saved = remembering
    starts = sorted({r[0] for r in records} - {0})
    assert len(starts) >= 2, "the chat must have dropped turns at least twice"
    notes = [next(r[1] for r in records if r[0] == s) for s in starts]
    assert len(set(notes)) == len(notes)  # a new note at each drop
    # Saved once per drop, keyed by the id of the message the window then starts with.
    assert saved == [(conversation.messages[s].id, n) for s, n in zip(starts, notes, strict=True)]


def test_turns_between_drops_reuse_the_cache_with_memory_on(remembering):
    _, records, _ = remembering
    checked = 0
    for before, after in zip(records, records[1:], strict=False):
        if before[0] == 0 or after[0] != before[0]:
            continue  # before the first drop, or a turn that drops (and renews the note)
        assert after[1] == before[1]  # the note stays, so the prompt keeps its prefix
        new_tokens = len(after[2]) - len(before[2])
        assert after[4] <= new_tokens + 1
        checked += 1
    assert checked >= 3


def test_a_failed_summary_is_told_in_one_line_and_retried_at_the_next_turn(engine):
    documents: list[str] = []

    def fails_once(*args, **kwargs):
        documents.append(args[2])
        if len(documents) == 1:
            raise SummaryError("a context limit of 512 tokens leaves too little;\nraise it")
        return summarize(*args, **kwargs)

    saved: list[tuple[int, str]] = []
    memory = RollingMemory(
        save=lambda key, note: saved.append((key, note)),
        note_tokens=NOTE_TOKENS,
        summarizer=fails_once,
    )
    model, tokenizer = engine
    conversation = Conversation(
        model, tokenizer, system_prompt=SYSTEM, settings=SETTINGS, date_string="23 Nov 2026"
    )
    conversation.memory = memory
    for i in range(16):  # a chat that already fills the window, written rather than generated
        conversation.messages += [
            ChatMessage("user", f"Turn {i}: remember the colour number {i} and words.", id=2 * i),
            ChatMessage("assistant", f"Noted: colour number {i}.", id=2 * i + 1),
        ]
    turns = []  # (window start, notices, summaries asked for so far, note)
    for i in range(16, 24):
        conversation.add_user(f"Turn {i}: remember the colour number {i} and words.").id = 100 + i
        events: list = []
        asked = len(documents)
        conversation.respond(events.append)
        if asked == 0 and len(documents) == 1:
            # A second look in the same turn (as a tool round would take) does not retry.
            assert not memory.catch_up(conversation, events.append, threading.Event())
        notices = [(e.message, e.severity) for e in events if isinstance(e, Notice)]
        turns.append((conversation.window_start, notices, len(documents), memory.note))
        if saved:
            break
    assert len(turns) == 2, "the first turn drops, the second retries"
    failed, retried = turns
    assert failed[0] > 0 and failed[2] == 1 and failed[3] == ""
    warning = f"{FAILED} a context limit of 512 tokens leaves too little; raise it"
    assert failed[1] == [(SUMMARISING, "information"), (warning, "warning")]
    # The next turn summarises the same turns again (one summary, no more), from the first.
    assert retried[0] >= failed[0] and retried[2] == 2
    assert retried[1] == [(SUMMARISING, "information")]
    assert documents[1].startswith("User: Turn 0:") and documents[0] in documents[1]
    assert saved == [(conversation.messages[retried[0]].id, retried[3])] and retried[3]
    assert memory.upto == retried[0]


def test_memory_off_means_no_note(engine, tiny_4bit, tmp_path):
    conversation, records = run_chat(engine, None)
    assert any(r[0] > 0 for r in records), "the chat must have dropped turns"
    assert all(NOTE_LABEL not in engine[1].decode(r[2]) for r in records)
    assert Settings().rolling_memory is False
    with SessionStore.open(tmp_path / "s.db") as store:
        sync_memory(conversation, False, store, None)
    assert conversation.memory is None


def test_a_note_survives_reopening_the_chat(demo_home):
    settings = Settings(max_tokens=12, temperature=0.0, context_limit=512, rolling_memory=True)
    events = []
    controller = ChatController(settings, AppPaths.from_env(), events.append, demo=True)
    assert controller.load_model().result(timeout=120)
    for i in range(30):
        controller.send(f"Turn {i}: the colour number is {i}, remember it.").result(timeout=120)
        if any(isinstance(e, Notice) and "summarising" in e.message for e in events):
            break
    session_id = [e for e in events if isinstance(e, TurnStarted)][-1].session_id
    note = controller.open_conversation.memory.note
    assert note
    controller.close()
    with SessionStore.open(AppPaths.from_env().sessions_db) as store:
        assert note in store.memory_notes(session_id).values()

    events2 = []
    again = ChatController(settings, AppPaths.from_env(), events2.append, demo=True)
    assert again.load_model().result(timeout=120)
    again.open_session(session_id).result(timeout=60)
    again.send("And now?").result(timeout=120)
    conversation = again.open_conversation
    if not any(isinstance(e, Notice) for e in events2):  # no new drop: the very same note
        assert conversation.memory.note == note
    assert conversation.window_start > 0
    assert conversation.memory.note in conversation.tokenizer.decode(conversation.encode())
    again.close()


def test_memory_notes_are_kept_per_window_start_and_go_with_their_chat(store):
    session = store.create_session(
        title="t", system_prompt="", settings={}, model="m", quant="4bit"
    )
    first = store.add_message(session.id, "user", "one")
    later = store.add_message(session.id, "user", "two", parent_id=first.id)
    store.save_memory_note(session.id, first.id, "old")
    store.save_memory_note(session.id, later.id, "newer")
    store.save_memory_note(session.id, later.id, "newest")
    assert store.memory_notes(session.id) == {first.id: "old", later.id: "newest"}
    store.delete_session(session.id)
    assert store.memory_notes(session.id) == {}
