"""The status bar at 80×24 (macOS Terminal's size): abbreviated, nothing dropped."""

from __future__ import annotations

import pytest
from textual.widgets import Label

from tests.tui_pilot import make_app, model_ready, send

pytestmark = pytest.mark.anyio


async def test_at_80_columns_the_status_bar_shows_speed_and_model_whole(paths):
    app = make_app(paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await model_ready(pilot)
        await send(pilot, "hi")
        await pilot.pause()
        status = app.chat.status
        info = status.query_one("#status-info", Label)
        model = status.query_one("#status-model", Label)
        assert "t/s" in status.speed_text and "s·" in status.speed_text
        for label in (info, model):  # each shown in full, not cut at the bar's edge
            assert label.region.width >= len(str(label.render()).strip()) > 0
            assert label.region.right <= 80
        assert str(model.render()).startswith("DEMO")
