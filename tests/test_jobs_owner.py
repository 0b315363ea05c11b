"""The open chat's one owner: every answer ends in a TurnFinished that carries its saved ids,
and a job that makes the front end busy says so (JobStarted) before anything else of it."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from llama_chat.controller import ChatController
from llama_chat.events import JobStarted, TextDelta, TurnFinished, TurnStarted
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from mlx_model import FinishReason


@pytest.fixture
def controller(demo_home):
    events: list = []
    settings = Settings(max_tokens=8, temperature=0.0)
    controller = ChatController(settings, AppPaths.from_env(), events.append, demo=True)
    assert controller.load_model().result(timeout=120)
    controller.events = events
    yield controller
    controller.close()


def finished_events(events: list) -> list[TurnFinished]:
    return [e for e in events if isinstance(e, TurnFinished)]


def test_turn_finished_carries_the_saved_ids_of_every_kind_of_answer(controller):
    events = controller.events
    returned = controller.send("Hello there").result(timeout=120)
    started = [e for e in events if isinstance(e, TurnStarted)][-1]
    path = controller.sessions.active_path(started.session_id)
    user, answer = path[-2], path[-1]
    sent = finished_events(events)[-1]
    assert sent == returned  # the event and the job's result are the same, ids and all
    assert (sent.user_id, sent.answer_id, sent.reply_id) == (user.id, answer.id, answer.id)
    assert (user.role, answer.role, answer.content) == ("user", "assistant", sent.text)

    again = controller.regenerate().result(timeout=120)
    path = controller.sessions.active_path(started.session_id)
    assert again.user_id == user.id
    assert again.answer_id == path[-1].id != answer.id  # a new sibling, now the shown one
    assert finished_events(events)[-1].answer_id == again.answer_id

    summary = controller.summarize_chat().result(timeout=120)
    path = controller.sessions.active_path(started.session_id)
    assert summary.finish_reason in (FinishReason.STOP, FinishReason.LENGTH)
    assert summary.user_id is None  # a summary answers no user message
    assert summary.answer_id == path[-1].id
    assert path[-1].content == summary.text
    assert finished_events(events)[-1].answer_id == summary.answer_id


def test_job_started_comes_first_and_names_the_job_and_the_chat(controller):
    events = controller.events
    controller.send("Hello there").result(timeout=120)
    first = events.index(next(e for e in events if isinstance(e, JobStarted)))
    turn = events.index(next(e for e in events if isinstance(e, TurnStarted)))
    assert first < turn
    assert events[first].job == "answer" and events[first].session_id is None  # a new chat

    del events[:]
    controller.send("And again").result(timeout=120)
    kinds = [type(e) for e in events]
    assert kinds.index(JobStarted) < kinds.index(TurnStarted)
    session_id = next(e for e in events if isinstance(e, TurnStarted)).session_id
    assert next(e for e in events if isinstance(e, JobStarted)).session_id == session_id

    del events[:]
    controller.rename_session(session_id, "Renamed").result(timeout=30)
    assert not any(isinstance(e, JobStarted) for e in events)  # not a job that makes it busy


def test_the_first_text_reaches_the_screen_while_the_store_is_busy(demo_home):
    # The first text of an answer adds the answer's row to the store, and the store may be busy
    # (another program, a read of the chat list): the text is shown first and saved after, so
    # the user does not wait for the store; nothing is lost (saved once the store is free).
    paths = AppPaths.from_env()
    first_text = threading.Event()
    other = sqlite3.connect(
        paths.ensure().sessions_db, isolation_level=None, timeout=30, check_same_thread=False
    )

    def on_event(event) -> None:  # the engine thread
        if isinstance(event, TurnStarted):
            other.execute("BEGIN IMMEDIATE")  # the chat and the question are saved by now
        elif isinstance(event, TextDelta) and not first_text.is_set():
            first_text.set()

    settings = Settings(max_tokens=8, temperature=0.0)
    controller = ChatController(settings, paths, on_event, demo=True)
    try:
        assert controller.load_model().result(timeout=120)
        answered = controller.send("Hello there")
        try:
            assert first_text.wait(timeout=60), "the first text waited for the store"
        finally:
            other.execute("ROLLBACK")
        finished = answered.result(timeout=120)
        assert finished.finish_reason in (FinishReason.STOP, FinishReason.LENGTH)
        [chat] = controller.queries.list_sessions()
        saved = controller.queries.shown_chat(chat.id).messages
        assert saved[-1].id == finished.answer_id and saved[-1].content == finished.text
    finally:
        controller.close()
        other.close()
