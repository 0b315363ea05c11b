"""What the main screens look like, compared with approved SVG snapshots.

Nothing random or time-dependent reaches the screen: chats are written into the store before
the app starts (no generated text), notifications are cleared, cursors do not blink, and the
memory check sees a fixed 16 GB machine. Update the baselines with ``--snapshot-update`` after
checking the new pictures.
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

import llama_chat.models.store as model_store
import llama_chat.tui.screens.settings as settings_screen
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore
from llama_chat.tools import ToolCall
from llama_chat.tui.app import LlamaChatApp
from llama_chat.tui.screens.dialogs import ConfirmDialog, ExportDialog, RenameDialog
from llama_chat.tui.screens.help import HelpScreen
from llama_chat.tui.screens.settings import SettingsScreen
from llama_chat.tui.screens.tool_approval import ToolApprovalScreen
from llama_chat.tui.screens.welcome import WelcomeScreen
from tests.conftest import link_demo_checkpoint
from tests.tui_pilot import DrivenApp, make_app, model_ready, on_screen, seed_chat, wait_for

SNAPSHOT_HOME = Path(tempfile.gettempdir()) / "llama-chat-snapshots" / "home"
"""One fixed app home: the settings screen shows its paths, which must not vary by run."""

# With -n 2 the tests that use SNAPSHOT_HOME all go to one worker (--dist loadgroup), rather than
# one worker waiting for the other to be done with it.
pytestmark = pytest.mark.xdist_group("snapshots")

LAST_USED = "2025-11-03T09:00:00+00:00"
"""When the seeded chats were last used: a fixed date, so the sidebar shows the same text."""

SIZE = (110, 36)
TALL = (110, 84)  # the whole settings form, memory check included
SMALL = (80, 24)  # every screen and dialog must fit (and scroll) here

ANSWER = """Here is a loaf plan:

1. Mix **500 g** flour with 350 g water.
2. Rest, fold, shape.

```python
def hydration(flour_g: float, water_g: float) -> float:
    return water_g / flour_g
```"""


@pytest.fixture
def paths(monkeypatch, demo_checkpoint) -> Iterator[AppPaths]:
    """Like conftest's, but always the same folder, so snapshot tests take turns with it: one at
    a time across test workers (-n 2) and across runs on the same machine."""
    SNAPSHOT_HOME.parent.mkdir(parents=True, exist_ok=True)
    with open(SNAPSHOT_HOME.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, after the test
        shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
        monkeypatch.setenv("LLAMA_CHAT_HOME", str(SNAPSHOT_HOME))
        yield link_demo_checkpoint(SNAPSHOT_HOME, demo_checkpoint)


@pytest.fixture
def chats(paths: AppPaths) -> dict[str, int]:
    ids = {
        "lisbon": seed_chat(
            paths, "Weekend in Lisbon", [("user", "Plan it"), ("assistant", "Day 1: Alfama")]
        ),
        "bread": seed_chat(
            paths,
            "Sourdough hydration",
            [
                ("user", "How wet should my dough be? Use *stars* and [b]tags[/b] literally"),
                ("assistant", ANSWER),
            ],
        ),
    }
    store = SessionStore.open(paths.sessions_db)
    last = store.active_path(ids["bread"])[-1].id
    follow_up = store.add_message(ids["bread"], "user", "And in percent?", parent_id=last)
    store.add_message(
        ids["bread"], "assistant", "About 70", parent_id=follow_up.id, status="stopped"
    )
    store.close()
    with sqlite3.connect(paths.sessions_db) as conn:
        conn.execute("UPDATE sessions SET updated_at = ?", (LAST_USED,))
    return ids


@pytest.fixture(autouse=True)
def fixed_machine(monkeypatch) -> None:
    monkeypatch.setattr(model_store, "machine_memory_bytes", lambda: 16 * 10**9)
    monkeypatch.setattr(settings_screen, "packed_kv_decodes_slower", lambda: True)  # as on CPU


async def settle(pilot: Pilot) -> None:
    """No blinking cursors, no notifications: the picture depends only on the state."""
    app: LlamaChatApp = pilot.app
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    for widget in app.chat.query("Input, TextArea"):
        widget.cursor_blink = False
    app.clear_notifications()
    await pilot.pause()


async def open_chat(pilot: Pilot, session_id: int) -> None:
    app: LlamaChatApp = pilot.app
    await model_ready(pilot)
    app.controller.open_session(session_id)
    await wait_for(pilot, lambda: app.session_id == session_id, "the chat to open")
    await wait_for(pilot, lambda: len(app.chat.messages.children) >= 4, "its messages")


def test_chat_with_messages(snap_compare, paths, chats):
    async def run_before(pilot: Pilot) -> None:
        await open_chat(pilot, chats["bread"])
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SIZE)


def test_settings(snap_compare, paths, chats):
    async def run_before(pilot: Pilot) -> None:
        await open_chat(pilot, chats["bread"])
        await pilot.press("ctrl+s")
        await on_screen(pilot, SettingsScreen, "settings")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=TALL)


def test_settings_with_errors(snap_compare, paths, monkeypatch):
    monkeypatch.setattr(model_store, "machine_memory_bytes", lambda: 4 * 10**8)

    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        await pilot.press("ctrl+s")
        await on_screen(pilot, SettingsScreen, "settings")
        screen = pilot.app.screen
        screen.query_one("#temperature", Input).value = "warm"
        screen.query_one("#top_p", Input).value = "0"
        screen.query_one("#context_limit", Input).value = "131072"
        screen.query_one("#kv_bits").value = "8"
        screen.query_one("#temperature", Input).focus()
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=TALL)


def test_help(snap_compare, paths):
    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        await pilot.press("f1")
        await on_screen(pilot, HelpScreen, "help")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SIZE)


def test_sidebar_search(snap_compare, paths, chats):
    async def run_before(pilot: Pilot) -> None:
        app: LlamaChatApp = pilot.app
        await model_ready(pilot)
        app.chat.sidebar.query_one("#session-search", Input).focus()
        await pilot.press(*"dough")
        await wait_for(pilot, lambda: len(app.chat.sidebar.items) == 1, "the search")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SIZE)


def test_tool_approval(snap_compare, paths):
    async def run_before(pilot: Pilot) -> None:
        app: LlamaChatApp = pilot.app
        await model_ready(pilot)
        call = ToolCall("read_text_file", {"path": "~/notes/todo.txt", "max_chars": 2000})
        app.push_screen(ToolApprovalScreen(call))
        await on_screen(pilot, ToolApprovalScreen, "the approval dialog")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SIZE)


# -- 80×24: every screen and dialog fits, scrolling where it must ------------------------------


def test_welcome_at_80x24(snap_compare, paths, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))

    async def run_before(pilot: Pilot) -> None:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        await settle(pilot)

    app = DrivenApp(Settings(), paths, offline=True)
    assert snap_compare(app, run_before=run_before, terminal_size=SMALL)


def test_settings_at_80x24(snap_compare, paths):
    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        await pilot.press("ctrl+s")
        await on_screen(pilot, SettingsScreen, "settings")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)


def test_help_at_80x24(snap_compare, paths):
    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        await pilot.press("f1")
        await on_screen(pilot, HelpScreen, "help")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)


@pytest.mark.parametrize(
    "dialog",
    [
        lambda: RenameDialog("Sourdough hydration"),
        lambda: ConfirmDialog(
            "Delete the chat “Sourdough hydration”? This cannot be undone.", "Delete"
        ),
        lambda: ExportDialog("Sourdough hydration", "/Users/ana/Documents"),
        lambda: ToolApprovalScreen(ToolCall("read_text_file", {"path": "~/notes/todo.txt"})),
    ],
    ids=["rename", "confirm", "export", "tool_approval"],
)
def test_dialog_at_80x24(snap_compare, paths, dialog):
    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        screen = dialog()
        pilot.app.push_screen(screen)
        await on_screen(pilot, type(screen), "the dialog")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)
