"""The help screen fits the terminal: every column, the binding ids included, lies inside the
screen at 80×24 and 120×40 (the action text wraps instead), and K opens the key tester."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from llama_chat.tui.key_tester import KeyTesterScreen
from llama_chat.tui.screens.help import HelpScreen
from tests.tui_pilot import make_app, on_screen, wait_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_help_column_is_on_screen(paths, size):
    app = make_app(paths)
    async with app.run_test(size=size) as pilot:
        await pilot.press("f1")
        await on_screen(pilot, HelpScreen, "help")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, "the rows")
        await pilot.pause()
        visible = table.scrollable_content_region
        assert table.max_scroll_x == 0, "no column is off to the right"
        assert table.virtual_size.width <= visible.width
        assert visible.right <= app.screen.region.right and visible.x >= 0
        ids = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert "scroll.page_down" in ids and "toggle_sidebar" in ids
        # The id column is the last: its cells end where the table's content does, on screen.
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        assert visible.x + sum(widths) <= visible.right
        assert widths[2] >= max(map(len, ids)) + 2 * table.cell_padding  # ids are never cut
        # Long actions wrap onto more lines rather than run off the screen.
        assert max(row.height for row in table.ordered_rows) > 1


async def test_k_in_the_help_opens_the_key_tester_and_esc_twice_comes_back(paths):
    app = make_app(paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await on_screen(pilot, HelpScreen, "help")
        await pilot.press("k")
        await on_screen(pilot, KeyTesterScreen, "the key tester")
        await pilot.press("escape", "escape")
        await on_screen(pilot, HelpScreen, "help again")
