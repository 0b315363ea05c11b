"""Driving the real app in tests: the app with a record of what it told the user, and helpers.

Every TUI test runs the real app (App.run_test + Pilot) on the real demo checkpoint (random
weights, Meta's tokenizer) through the real controller and engine thread, with
LLAMA_CHAT_HOME in a temporary folder. Tests wait on real state (a job's JobFinished having
been handled, the busy reactive), never on sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on
from textual.pilot import Pilot

from llama_chat.events import Job, JobFinished
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.app import LlamaChatApp
from llama_chat.tui.bridge import Core
from llama_chat.tui.state import TURN_JOBS

SIZE = (110, 40)


class DrivenApp(LlamaChatApp):
    """The real app, recording every notification it shows and every job it saw end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notices: list[tuple[str, str]] = []
        """(message, severity) of every notification, in order."""
        self.finished_jobs: list[JobFinished] = []

    def notify(self, message: str, *, severity: str = "information", **kwargs: Any) -> None:
        self.notices.append((str(message), severity))
        super().notify(message, severity=severity, **kwargs)

    @on(Core.JobFinished)
    def _record_finished(self, message: Core.JobFinished) -> None:
        self.finished_jobs.append(message.event)

    def turns_finished(self) -> int:
        return sum(job.job in TURN_JOBS for job in self.finished_jobs)

    def errors(self) -> list[str]:
        return [text for text, severity in self.notices if severity == "error"]


def make_app(paths: AppPaths, export_dir: Path | None = None, **settings: object) -> DrivenApp:
    values = {"max_tokens": 8, "temperature": 0.0, **settings}
    return DrivenApp(Settings(**values), paths, demo=True, export_dir=export_dir)


async def wait_for(
    pilot: Pilot, condition: Callable[[], object], what: str, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.02)


async def footer_shows(pilot: Pilot, keys: set[str]) -> None:
    """Wait until the footer lists keys with these descriptions: it is rebuilt after the
    screen's next refresh, not as the key that changed it is handled."""

    def shown() -> bool:
        return keys <= {key.description for key in pilot.app.chat.query("FooterKey")}

    await wait_for(pilot, shown, f"the footer to show {sorted(keys)}", 10)


async def on_screen(pilot: Pilot, kind: type, what: str) -> None:
    """Wait until a screen of ``kind`` is on top and has drawn its widgets."""
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen.children, what
    )
    await pilot.pause()


async def model_ready(pilot: Pilot) -> None:
    app: LlamaChatApp = pilot.app
    await wait_for(pilot, lambda: app.model_state == "ready", "the model to load")


async def open_and_settle(pilot: Pilot, session_id: int) -> None:
    """Load the model, open a saved chat and wait until it is shown and has filled the screen
    (the app may have reopened it on start as well: that opening is over too)."""
    app: DrivenApp = pilot.app
    await model_ready(pilot)
    app.controller.open_session(session_id)
    # Jobs and their events arrive in order: once this later job has ended, the openings have.
    app.controller.save_cache()
    await wait_for(
        pilot, lambda: any(j.job == Job.SAVE_CACHE for j in app.finished_jobs), "the chat"
    )
    assert app.session_id == session_id
    await wait_for(pilot, lambda: not app.chat.messages.loading_older, "the screen to fill")


async def send(pilot: Pilot, text: str) -> None:
    """Type ``text`` into the message box, press Enter, wait for the answer to finish."""
    app: LlamaChatApp = pilot.app
    app.chat.prompt.focus()
    await keys_then_turn(pilot, *text, "enter")


async def keys_then_turn(pilot: Pilot, *keys: str) -> None:
    """Press ``keys`` (which start an answer) and wait until that answer job has ended."""
    app: DrivenApp = pilot.app
    before = app.turns_finished()
    await pilot.press(*keys)
    await wait_for(
        pilot, lambda: app.turns_finished() > before and not app.busy, "the end of the turn"
    )


def widgets(app: LlamaChatApp, kind: type) -> list:
    return list(app.chat.messages.query_children(kind))


def seed_chat(paths: AppPaths, title: str, exchange: list[tuple[str, str]]) -> int:
    """A saved chat written straight into the store, as an earlier run would have left it."""
    store = SessionStore.open(paths.sessions_db)
    info = store.create_session(
        title=title, system_prompt="Be brief.", settings={}, model="demo", quant="4bit"
    )
    parent = None
    for role, content in exchange:
        parent = store.add_message(info.id, role, content, parent_id=parent).id
    store.close()
    return info.id
