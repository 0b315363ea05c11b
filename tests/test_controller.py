"""The chat controller: one engine thread, answers committed as they stream, nothing lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from llama_chat.controller import ChatController
from llama_chat.events import (
    Job,
    JobFinished,
    ModelLoaded,
    PrefillProgress,
    SessionOpened,
    TextDelta,
    TurnFinished,
    TurnStarted,
)
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.status import MessageStatus
from llama_chat.store.sessions import SessionStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(demo_home):
    return demo_home


def make_controller(events, *, max_tokens=12, **kwargs) -> ChatController:
    settings = Settings(max_tokens=max_tokens, temperature=0.0)
    controller = ChatController(settings, AppPaths.from_env(), events.append, demo=True, **kwargs)
    assert controller.load_model().result(timeout=120)
    return controller


def session_of(events) -> int:
    """The chat the last turn was saved to, as the front end learns it: from the events."""
    return [e for e in events if isinstance(e, TurnStarted)][-1].session_id


def test_messages_are_committed_and_the_session_comes_back(home):
    events = []
    controller = make_controller(events)
    first = controller.send("Hello there").result(timeout=120)
    assert first.finish_reason in ("stop", "length")
    second = controller.send("And again").result(timeout=120)
    session_id = session_of(events)
    controller.close()
    assert any(isinstance(e, ModelLoaded) and e.demo for e in events)

    store = SessionStore.open(AppPaths.from_env().sessions_db)
    path = store.active_path(session_id)
    assert [m.role for m in path] == ["user", "assistant", "user", "assistant"]
    answers = [MessageStatus.from_finish_reason(f.finish_reason) for f in (first, second)]
    assert [m.status for m in path] == ["complete", answers[0], "complete", answers[1]]
    assert path[1].content == first.text
    assert store.get_session(session_id).title == "Hello there"

    # A new controller (a restart) opens it with its saved KV cache: only new tokens prefill.
    events2 = []
    again = make_controller(events2)
    again.open_session(session_id).result(timeout=60)
    opened = [e for e in events2 if isinstance(e, SessionOpened)][-1]
    assert [m.content for m in opened.messages] == [m.content for m in path]
    assert opened.cached_tokens > 0
    third = again.send("Third").result(timeout=120)
    assert third.stats.cached_tokens >= opened.cached_tokens - 1
    again.close()


def test_stop_keeps_the_partial_answer_marked_stopped(home):
    events = []
    controller = make_controller(events, max_tokens=5000)

    def stop_after_some(event):
        events.append(event)
        if isinstance(event, TextDelta) and sum(isinstance(e, TextDelta) for e in events) == 8:
            controller.stop()

    controller.on_event = stop_after_some
    finished = controller.send("Keep talking").result(timeout=120)
    assert finished.finish_reason == "cancelled"
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    store = controller.sessions
    answer = store.active_path(session_of(events))[-1]
    assert answer.status == "stopped" and answer.content == streamed
    controller.close()


def test_regenerate_keeps_the_old_answer_as_a_branch(home):
    events = []
    controller = make_controller(events)
    controller.send("Pick a word").result(timeout=120)
    controller.regenerate().result(timeout=120)
    store = controller.sessions
    path = store.active_path(session_of(events))
    assert [m.role for m in path] == ["user", "assistant"]
    siblings = store.siblings(path[-1].id)
    assert len(siblings) == 2  # the first answer is still there
    controller.close()


def test_quant_switch_keeps_the_conversation(home):
    events = []
    controller = make_controller(events)
    first = controller.send("Remember me").result(timeout=120)
    assert controller.load_model("8bit").result(timeout=120)
    loaded_at = max(i for i, e in enumerate(events) if isinstance(e, ModelLoaded))
    finished = controller.send("Still there?").result(timeout=120)
    # The new model saw the whole chat (a fresh cache: nothing of the old model's is reused).
    # What it holds cached was read after the load by the new model itself (the read-ahead of
    # the open chat), if the read-ahead ran before the message came.
    turn_at = max(i for i, e in enumerate(events) if isinstance(e, TurnStarted))
    read_ahead = [e.total for e in events[loaded_at:turn_at] if isinstance(e, PrefillProgress)]
    assert finished.stats.cached_tokens <= max(read_ahead, default=0)
    assert finished.stats.prompt_tokens > first.stats.prompt_tokens + first.stats.generation_tokens
    assert finished.finish_reason in ("stop", "length")
    assert len(controller.sessions.active_path(session_of(events))) == 4
    controller.close()


WRITER = textwrap.dedent(
    """
    import sys
    from llama_chat.controller import ChatController
    from llama_chat.paths import AppPaths
    from llama_chat.settings import Settings

    # Greedy: a sampled answer from the random demo model may end at once, before the kill.
    settings = Settings(max_tokens=100000, context_limit=131072, temperature=0.0)
    c = ChatController(settings, AppPaths.from_env(), lambda e: None, demo=True)
    c.load_model().result()
    c.send("Write forever").result()
    """
)


def test_kill_9_mid_answer_leaves_the_partial_answer_marked_interrupted(home):
    # An earlier, finished chat that must come through intact.
    events = []
    controller = make_controller(events)
    controller.send("An earlier chat").result(timeout=120)
    earlier = session_of(events)
    earlier_path = [(m.role, m.content, m.status) for m in controller.sessions.active_path(earlier)]
    controller.close()

    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER],
        cwd=ROOT,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    db = AppPaths.from_env().sessions_db
    deadline = time.monotonic() + 120
    partial = ""
    while time.monotonic() < deadline and len(partial) < 40:
        time.sleep(0.3)
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT content FROM messages WHERE role='assistant' AND status='streaming'"
            ).fetchone()
        partial = row[0] if row else ""
    assert partial, proc.stderr.read() if proc.poll() is not None else "no streaming answer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    store = SessionStore.open(db)
    assert store.list_sessions()[0].id != earlier
    latest = store.list_sessions()[0].id
    answer = store.active_path(latest)[-1]
    assert answer.status == "interrupted"
    assert answer.content.startswith(partial)
    assert [(m.role, m.content, m.status) for m in store.active_path(earlier)] == earlier_path
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    turn_ends = [e for e in events if isinstance(e, TurnFinished | JobFinished)]
    assert isinstance(turn_ends[-3], TurnFinished)  # then the send job's end, then close's
    assert turn_ends[-2:] == [JobFinished(Job.SEND, True), JobFinished(Job.CLOSE, True)]
