"""What the prompt library looks like at 80×24: the "/" completion and the settings tab.

Same fixed home and settled screen as tests/test_tui_snapshots.py; update the baselines with
``--snapshot-update`` after checking the new pictures.
"""

from __future__ import annotations

import json

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from llama_chat.tui.screens.settings import SettingsScreen
from llama_chat.tui.widgets.preset_completion import PresetCompletion
from tests.test_tui_snapshots import SMALL, fixed_machine, paths, settle  # noqa: F401
from tests.tui_pilot import make_app, model_ready, on_screen, wait_for

pytestmark = pytest.mark.xdist_group("snapshots")  # see test_tui_snapshots.py

TIDY = {"name": "tidy", "description": "Tidy my notes", "template": "Tidy:\n{text}"}


def test_preset_completion_at_80x24(snap_compare, paths):  # noqa: F811
    paths.presets_file.write_text(json.dumps([TIDY]))

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press("slash", "t")
        completion = app.chat.query_one(PresetCompletion)
        await wait_for(pilot, lambda: completion.display, "the completion")
        await pilot.press("down")
        await wait_for(pilot, lambda: app.chat.prompt.border_subtitle, "the draft counter")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)


def test_presets_tab_at_80x24(snap_compare, paths):  # noqa: F811
    paths.presets_file.write_text(json.dumps([TIDY]))

    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        await pilot.press("ctrl+s")
        await on_screen(pilot, SettingsScreen, "settings")
        pilot.app.screen.query_one(TabbedContent).active = "settings-presets"
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)
