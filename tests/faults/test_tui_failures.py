"""No silent failure: when the real part under a job breaks, the user reads why, once, and the
app stays usable.

Each test breaks one real part (a SessionStore method, the weights loader, the export folder,
the KV-cache folder) and drives the app with keys. What the user was told is captured by the
app itself (tests/tui_pilot.DrivenApp records every notification).
"""

from __future__ import annotations

import shutil

import pytest

import mlx_model
from llama_chat.events import Job
from llama_chat.status import MessageStatus
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.screens.dialogs import ConfirmDialog
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from tests.tui_pilot import (
    SIZE,
    DrivenApp,
    keys_then_turn,
    make_app,
    model_ready,
    on_screen,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio


def broken(what: str):
    def fail(*args, **kwargs):
        raise OSError(f"{what}: disk I/O error")

    return fail


async def job_ended(pilot, job: Job) -> None:
    app: DrivenApp = pilot.app
    await wait_for(pilot, lambda: any(j.job == job for j in app.finished_jobs), f"{job} to end")


async def still_answers(pilot) -> None:
    """The app is not stuck: a new message gets an answer."""
    app: DrivenApp = pilot.app
    assert not app.busy
    answers = len(widgets(app, AssistantMessage))
    await send(pilot, "Are you still there?")
    assert len(widgets(app, AssistantMessage)) == answers + 1


async def test_a_model_that_fails_to_load_says_why(paths, monkeypatch):
    monkeypatch.setattr(mlx_model, "load", broken("model.safetensors"))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await job_ended(pilot, Job.LOAD)
        await wait_for(pilot, lambda: app.errors(), "the error")
        (error,) = app.errors()
        assert "model.safetensors: disk I/O error" in error
        assert app.model_state == "failed"
        assert "failed to load" in app.chat.status.model_text
        app.chat.prompt.focus()
        await pilot.press(*"hello", "enter")
        assert app.chat.prompt.text == "hello", "the message is kept for later"
        assert any("did not load" in m for m, _ in app.notices)
        # Settings saved after a failed load try again, and this time it works.
        monkeypatch.undo()
        app.apply_settings(app.settings)
        await model_ready(pilot)
        app.chat.prompt.clear()
        await still_answers(pilot)


async def test_a_failed_answer_is_marked_with_the_error(paths, monkeypatch):
    from llama_chat.chat.conversation import Conversation

    def fire(self, emit, **kwargs):
        raise RuntimeError("the GPU caught fire")

    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        monkeypatch.setattr(Conversation, "respond", fire)
        await send(pilot, "Hello?")
        (answer,) = widgets(app, AssistantMessage)
        assert answer.status == MessageStatus.ERROR and answer.has_class("-error")
        detail = str(answer.query_one(".message-detail").render())
        assert "the GPU caught fire" in detail
        assert app.errors() == ["Could not answer: the GPU caught fire"]
        saved = app.controller.sessions.active_path(app.session_id)[-1]
        assert saved.status == MessageStatus.ERROR
        monkeypatch.undo()
        await still_answers(pilot)


async def test_a_send_whose_message_cannot_be_saved_says_so(paths, monkeypatch):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        monkeypatch.setattr(SessionStore, "add_message", broken("sessions.db"))
        await send(pilot, "Hello?")
        (error,) = app.errors()
        assert error.startswith("Could not answer:") and "sessions.db" in error
        monkeypatch.undo()
        await still_answers(pilot)


async def test_a_failed_regenerate_says_so(paths, monkeypatch):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Pick a word")
        monkeypatch.setattr(SessionStore, "add_message", broken("sessions.db"))
        await keys_then_turn(pilot, "ctrl+r")
        (error,) = app.errors()
        assert error.startswith("Could not answer again:") and "sessions.db" in error
        assert widgets(app, AssistantMessage)[-1].status == MessageStatus.ERROR
        monkeypatch.undo()
        await still_answers(pilot)


async def test_a_failed_edit_says_so(paths, monkeypatch):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "First try")
        await pilot.press("ctrl+e")
        app.chat.prompt.clear()
        monkeypatch.setattr(SessionStore, "add_message", broken("sessions.db"))
        await send(pilot, "Second try")
        (error,) = app.errors()
        assert error.startswith("Could not answer the edited message:")
        assert not app.editing
        monkeypatch.undo()
        await still_answers(pilot)


async def test_settings_that_cannot_be_applied_say_so(paths, monkeypatch):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hi")
        monkeypatch.setattr(SessionStore, "set_session_settings", broken("sessions.db"))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not app.chat, "the settings")
        await pilot.press("ctrl+s")
        await job_ended(pilot, Job.SETTINGS)
        await wait_for(pilot, lambda: app.errors(), "the error")
        (error,) = app.errors()
        assert error.startswith("Could not apply the settings:") and "sessions.db" in error
        monkeypatch.undo()
        await still_answers(pilot)


async def test_a_chat_that_cannot_be_deleted_stays_listed(paths, monkeypatch):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Keep me")
        monkeypatch.setattr(SessionStore, "delete_session", broken("sessions.db"))
        await app.chat.run_action("delete_session")
        await on_screen(pilot, ConfirmDialog, "confirm dialog")
        await pilot.click("#confirm")
        await job_ended(pilot, Job.DELETE)
        await wait_for(pilot, lambda: app.errors(), "the error")
        (error,) = app.errors()
        assert error.startswith("Could not delete the chat:") and "sessions.db" in error
        assert [i.session.title for i in app.chat.sidebar.items] == ["Keep me"]
        await still_answers(pilot)


async def test_an_export_to_a_folder_that_is_a_file_says_so(paths, tmp_path):
    not_a_folder = tmp_path / "exports"
    not_a_folder.write_text("a file where the folder should be")
    app = make_app(paths, not_a_folder)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Export me")
        await app.chat.run_action("export_session('markdown')")
        await job_ended(pilot, Job.EXPORT)
        await wait_for(pilot, lambda: app.errors(), "the error")
        (error,) = app.errors()
        assert error.startswith("Could not export the chat:") and "exports" in error
        await still_answers(pilot)


async def test_a_kv_cache_that_cannot_be_saved_is_reported_and_the_chat_goes_on(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Cache me")
        shutil.rmtree(paths.kv_cache_dir)
        paths.kv_cache_dir.write_text("a file where the cache folder should be")
        await pilot.press("ctrl+n")  # leaving the chat saves its cache
        await wait_for(
            pilot,
            lambda: any("Could not save the KV cache" in m for m, _ in app.notices),
            "the warning",
        )
        await wait_for(pilot, lambda: app.session_id is None, "the new chat")
        assert [u.text for u in widgets(app, UserMessage)] == []
        await still_answers(pilot)
