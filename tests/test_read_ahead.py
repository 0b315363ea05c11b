"""A chat opened without a saved KV cache is read into the cache in the background."""

from __future__ import annotations

import time

from llama_chat.controller import ChatController
from llama_chat.events import Job, JobFinished, PrefillProgress, SessionOpened, TurnFinished
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore


def seed(turns: int) -> int:
    """A chat as an import leaves it: messages in the store, no KV cache."""
    store = SessionStore.open(AppPaths.from_env().ensure().sessions_db)
    info = store.create_session(
        title="Imported", system_prompt="Be brief.", settings={}, model="demo", quant="4bit"
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


def controller_for(events: list) -> ChatController:
    settings = Settings(max_tokens=4, temperature=0.0)
    controller = ChatController(settings, AppPaths.from_env(), events.append, demo=True)
    assert controller.load_model().result(timeout=120)
    return controller


def finished(events: list, job: Job) -> int:
    return sum(isinstance(e, JobFinished) and e.job == job for e in events)


def test_an_opened_chat_is_read_ahead_and_the_next_answer_reads_only_the_new_turn(demo_home):
    chat = seed(40)
    events: list = []
    controller = controller_for(events)
    read_before = finished(events, Job.READ_CHAT)  # the one after the model loaded
    controller.open_session(chat).result(timeout=60)
    deadline = time.monotonic() + 120
    while finished(events, Job.READ_CHAT) == read_before and time.monotonic() < deadline:
        time.sleep(0.05)  # the user reads the chat a moment before typing
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
