"""80×24, the smallest terminal the app promises: the footer ends cleanly and the settings form
shows several fields at once."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from llama_chat.tui.screens.settings import SettingsScreen
from tests.tui_pilot import make_app, model_ready, on_screen

pytestmark = pytest.mark.anyio

SMALL = (80, 24)


async def test_the_footer_palette_key_reaches_the_right_edge_at_80x24(paths):
    app = make_app(paths)
    async with app.run_test(size=SMALL) as pilot:
        await model_ready(pilot)
        await pilot.pause()
        footer = app.chat.query_one("PriorityFooter")
        (palette,) = footer.query(".-command-palette")
        assert palette.region.right == SMALL[0], "a column of the keys under it shows through"
        under, _ = app.screen.get_widget_at(SMALL[0] - 1, SMALL[1] - 1)
        assert under is palette


async def test_settings_show_several_fields_at_once_at_80x24(paths):
    app = make_app(paths)
    async with app.run_test(size=SMALL) as pilot:
        await model_ready(pilot)
        await pilot.press("ctrl+s")
        await on_screen(pilot, SettingsScreen, "settings")
        await pilot.pause()
        form = app.screen.query_one("#settings-form")
        visible = form.content_region
        shown = [
            field
            for field in app.screen.query("#settings-form Input, #settings-form Select")
            if visible.contains_region(field.region)
        ]
        assert len(shown) >= 3, [f.id for f in shown]  # it was one at a time
        assert isinstance(shown[0], Select) and shown[0].id == "quant"
        assert any(isinstance(f, Input) for f in shown)
