"""A chat opened without a saved KV cache is read into the cache in the background."""

from __future__ import annotations

import time

from llama_chat.controller import ChatController
from llama_chat.events import (
    ContextCounted,
    Job,
    JobFinished,
    Notice,
    PrefillProgress,
    SessionOpened,
    TurnFinished,
)
from llama_chat.jobs.context import NEXT_MESSAGE_SHARE
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore


def seed(turns: int, title: str = "Imported") -> int:
    """A chat as an import leaves it: messages in the store, no KV cache."""
    store = SessionStore.open(AppPaths.from_env().ensure().sessions_db)
    info = store.create_session(
        title=title, system_prompt="Be brief.", settings={}, model="demo", quant="4bit"
    )
    parent = None
    for n in range(turns):
        for role, text in (
            ("user", f"Question {n} about the plan?"),
            ("assistant", f"Answer {n}."),
        ):
            parent = store.add_message(info.id, role, text, parent_id=parent).id
    store.close()
    return info.id


def controller_for(events: list, **settings_given) -> ChatController:
    settings = Settings(max_tokens=4, temperature=0.0, **settings_given)
    controller = ChatController(settings, AppPaths.from_env(), events.append, demo=True)
    assert controller.load_model().result(timeout=120)
    return controller


def finished(events: list, job: Job) -> int:
    return sum(isinstance(e, JobFinished) and e.job == job for e in events)


def wait_for_read_ahead(events: list, before: int) -> None:
    deadline = time.monotonic() + 120
    while finished(events, Job.READ_CHAT) == before and time.monotonic() < deadline:
        time.sleep(0.05)


def read_in_background(events: list) -> int:
    """Tokens the read-ahead read: the total of each prefill it finished."""
    return sum(e.total for e in events if isinstance(e, PrefillProgress) and e.done == e.total - 1)


def test_an_opened_chat_is_read_ahead_and_the_next_answer_reads_only_the_new_turn(demo_home):
    chat = seed(40)
    events: list = []
    controller = controller_for(events)
    read_before = finished(events, Job.READ_CHAT)  # the one after the model loaded
    controller.open_session(chat).result(timeout=60)
    wait_for_read_ahead(events, read_before)  # the user reads the chat a moment before typing
    controller.send("And the next step?").result(timeout=120)
    controller.close()
    assert finished(events, Job.READ_CHAT)
    reading = [e for e in events if isinstance(e, PrefillProgress)]
    answer = [e for e in events if isinstance(e, TurnFinished)][-1]
    history = reading[0].total  # what the read-ahead had to read
    assert history > 300
    # The answer found the chat in the cache: it read its own turn, not the whole chat again.
    assert answer.stats.cached_tokens >= history - 1
    assert answer.stats.prompt_tokens - answer.stats.cached_tokens < 40


def test_new_settings_that_empty_the_cache_have_the_chat_read_again_in_the_background(
    demo_home,
):
    chat = seed(40)
    events: list = []
    controller = controller_for(events)
    read_before = finished(events, Job.READ_CHAT)
    controller.open_session(chat).result(timeout=60)
    wait_for_read_ahead(events, read_before)
    history = read_in_background(events)
    # 8-bit K/V: the chat's cache is made anew, empty.
    read_before = finished(events, Job.READ_CHAT)
    new = Settings(max_tokens=4, temperature=0.0, kv_bits=8)
    controller.apply_settings(new).result(timeout=60)
    wait_for_read_ahead(events, read_before)
    controller.send("And the next step?").result(timeout=120)
    controller.close()
    answer = [e for e in events if isinstance(e, TurnFinished)][-1]
    assert history > 300 and read_in_background(events) >= 2 * history
    assert answer.stats.cached_tokens >= history - 1
    assert answer.stats.prompt_tokens - answer.stats.cached_tokens < 40


def test_a_chat_that_overflows_is_read_with_room_for_its_next_message(demo_home):
    # An imported chat longer than the window, whose turns nearly fill the window they fit:
    # read as it stands, the next message would not fit, the window would move a block, and
    # the answer would read the whole window again, the background read wasted.
    limit, max_tokens = 1024, 4
    events: list = []
    controller = controller_for(events, context_limit=limit)
    room: dict[int, int] = {}  # turns -> tokens the chat's window leaves free
    for turns in range(60, 78):  # a turn is ~25 tokens: one of these nearly fills its window
        controller.open_session(seed(turns, f"Survey {turns}")).result(timeout=60)
        counted = [e for e in events if isinstance(e, ContextCounted)][-1]
        room[turns] = limit - max_tokens - counted.tokens
    controller.close()
    turns = min(room, key=room.get)
    gap = int(limit * NEXT_MESSAGE_SHARE)
    assert 0 <= room[turns] < gap - 20, room  # a message of room + 10 tokens moves the window
    # The chat imported afresh (the survey's chats have saved caches now), in a fresh app.
    chat = seed(turns)
    events = []
    controller = controller_for(events, context_limit=limit)
    read_before = finished(events, Job.READ_CHAT)
    controller.open_session(chat).result(timeout=60)
    wait_for_read_ahead(events, read_before)
    read = read_in_background(events)
    message = "Next" + " step" * (room[turns] + 10)  # " step": one token each
    controller.send(message).result(timeout=120)
    controller.close()
    answer = [e for e in events if isinstance(e, TurnFinished)][-1]
    assert answer.finish_reason in ("stop", "length")
    # The read-ahead read the window the message needed: the answer read only the message.
    assert read > limit // 2
    assert answer.stats.cached_tokens >= read
    assert answer.stats.prompt_tokens - answer.stats.cached_tokens < room[turns] + 30


def test_with_rolling_memory_the_read_ahead_writes_the_note_and_reads_the_window_with_it(
    demo_home,
):
    # With the note's room kept, this chat no longer fits from its first message: the window
    # moves, and the turns it drops are summarised into a note the window starts with. Both
    # happen in the background read, not when the user sends.
    chat = seed(64)
    events: list = []
    controller = controller_for(events, context_limit=1024, rolling_memory=True)
    read_before = finished(events, Job.READ_CHAT)
    controller.open_session(chat).result(timeout=60)
    wait_for_read_ahead(events, read_before)
    summarised = [e for e in events if isinstance(e, Notice) and "summarising" in e.message]
    read = read_in_background(events)
    controller.send("And the next step?").result(timeout=120)
    controller.close()
    answer = [e for e in events if isinstance(e, TurnFinished)][-1]
    assert summarised and read > 500
    assert answer.stats.cached_tokens >= read
    assert answer.stats.prompt_tokens - answer.stats.cached_tokens < 30


def test_a_message_sent_while_the_chat_is_read_stops_the_read_and_is_answered(demo_home):
    chat = seed(400)
    events: list = []
    controller = controller_for(events)
    controller.open_session(chat)
    sent = controller.send("Quick one?")  # at once: the read-ahead gives way to it
    answer = sent.result(timeout=300)
    controller.close()
    assert answer is not None and answer.finish_reason in ("stop", "length")
    # The read-ahead stopped for the message: it ended before the message's turn started.
    kinds = [type(e).__name__ if not isinstance(e, JobFinished) else e.job for e in events]
    assert kinds.index(Job.READ_CHAT) < kinds.index("TurnStarted")


def test_a_chat_opened_before_the_model_is_shown_once_and_read_ahead_when_it_loads(demo_home):
    # The app reopens the last chat before the model loads. Showing it again once the model is
    # there would throw away where the user scrolled to (or the edit they began) meanwhile.
    chat = seed(40)
    events: list = []
    controller = ChatController(
        Settings(max_tokens=4, temperature=0.0), AppPaths.from_env(), events.append, demo=True
    )
    controller.open_session(chat).result(timeout=60)  # its read-ahead has no model to read with
    assert controller.load_model().result(timeout=120)
    deadline = time.monotonic() + 120
    while finished(events, Job.READ_CHAT) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    controller.send("And the next step?").result(timeout=120)
    controller.close()
    opened = [e for e in events if isinstance(e, SessionOpened)]
    assert len(opened) == 1 and opened[0].session.id == chat
    # The conversation the model got is the chat's: the read-ahead read it, the answer reused it.
    history = [e for e in events if isinstance(e, PrefillProgress)][0].total
    answer = [e for e in events if isinstance(e, TurnFinished)][-1]
    assert history > 300
    assert answer.stats.cached_tokens >= history - 1
