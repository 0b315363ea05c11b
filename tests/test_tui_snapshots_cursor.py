"""What the message cursor looks like at 80×24: the selected message highlighted, the cursor's
keys in the footer; and the save dialog. Same fixed home and dates as test_tui_snapshots.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from llama_chat.tui.screens.save_message import SaveMessageDialog
from tests.test_tui_snapshots import (  # noqa: F401  (fixtures)
    SMALL,
    chats,
    fixed_machine,
    paths,
    settle,
)
from tests.tui_pilot import make_app, on_screen, open_and_settle

pytestmark = pytest.mark.xdist_group("snapshots")  # see test_tui_snapshots.py

EXPORTS = Path("/Users/ana/Documents")
"""A fixed export folder: the save dialog shows it (nothing is written there)."""


def test_cursor_on_a_message_at_80x24(snap_compare, paths, chats):  # noqa: F811
    async def run_before(pilot: Pilot) -> None:
        await open_and_settle(pilot, chats["bread"])
        await pilot.press("alt+up", "up", "up")  # onto the answer with the code block
        await settle(pilot)

    app = make_app(paths, export_dir=EXPORTS)
    assert snap_compare(app, run_before=run_before, terminal_size=SMALL)


def test_save_dialog_at_80x24(snap_compare, paths, chats):  # noqa: F811
    async def run_before(pilot: Pilot) -> None:
        await open_and_settle(pilot, chats["bread"])
        await pilot.press("alt+up", "up", "up", "s")
        await on_screen(pilot, SaveMessageDialog, "the save dialog")
        await settle(pilot)

    app = make_app(paths, export_dir=EXPORTS)
    assert snap_compare(app, run_before=run_before, terminal_size=SMALL)
