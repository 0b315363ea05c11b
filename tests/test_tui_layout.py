"""The main screen at small sizes: the saved chats make room, Quit and Help stay in the footer,
and the conversation scrolls from the message box."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from llama_chat.tui.screens.settings import SettingsScreen
from tests.tui_pilot import (
    footer_shows,
    make_app,
    model_ready,
    on_screen,
    open_and_settle,
    seed_chat,
    wait_for,
)

pytestmark = pytest.mark.anyio

SMALL = (80, 24)


async def test_below_90_columns_the_chats_start_hidden_and_ctrl_b_toggles_them(paths):
    app = make_app(paths)
    async with app.run_test(size=SMALL) as pilot:
        await model_ready(pilot)
        sidebar, search = app.chat.sidebar, app.chat.sidebar.query_one("#session-search", Input)
        assert not sidebar.display
        await pilot.press("ctrl+b")
        assert sidebar.display and search.has_focus
        await pilot.press("ctrl+b")
        assert not sidebar.display and app.chat.prompt.has_focus


async def test_one_ctrl_b_goes_to_the_search_when_the_chats_are_shown(paths):
    app = make_app(paths)
    async with app.run_test(size=(110, 30)) as pilot:
        await model_ready(pilot)
        assert app.chat.sidebar.display and app.chat.prompt.has_focus
        await pilot.press("ctrl+b")
        assert app.chat.sidebar.display
        assert app.chat.sidebar.query_one("#session-search", Input).has_focus


@pytest.mark.parametrize("width", [50, 80])
async def test_quit_and_help_stay_visible_with_the_chats_focused(paths, width):
    seed_chat(paths, "Bread", [("user", "Flour?"), ("assistant", "Yes")])
    app = make_app(paths)
    async with app.run_test(size=(width, 24)) as pilot:
        await model_ready(pilot)
        await pilot.press("ctrl+b", "tab", "tab")  # past the search, into the list
        await footer_shows(pilot, {"Quit", "Help"})
        await pilot.pause()  # and laid out
        keys = [k for k in app.chat.query(FooterKey) if k.action in ("quit", "help")]
        assert [k.action for k in keys] == ["quit", "help"]
        for key in keys:
            assert app.screen.region.contains_region(key.region), f"{key.action} is cut off"
        chat_pane = app.chat.query_one("#chat")
        assert chat_pane.region.width >= width // 2, "the conversation keeps half the width"


async def test_page_keys_scroll_the_chat_while_typing(paths):
    exchange = [("user", "A question"), ("assistant", "An answer.\n" * 6)] * 8
    session_id = seed_chat(paths, "Long", exchange)
    app = make_app(paths)
    async with app.run_test(size=SMALL) as pilot:
        await open_and_settle(pilot, session_id)
        messages, prompt = app.chat.messages, app.chat.prompt
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: messages.scroll_y == messages.max_scroll_y, "the end")
        bottom = messages.scroll_y
        assert bottom > 0
        await pilot.press("home")  # empty box: Home scrolls to the top
        await wait_for(pilot, lambda: messages.scroll_y == 0, "the top")
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: messages.scroll_y > 0, "a page down")
        prompt.focus()
        await pilot.press(*"draft", "home")  # with text, Home moves the cursor instead
        assert prompt.has_focus and prompt.cursor_location == (0, 0)
        scrolled = messages.scroll_y
        await pilot.press("pageup")
        await wait_for(pilot, lambda: messages.scroll_y < scrolled, "a page up")
        assert prompt.text == "draft" and prompt.has_focus


async def test_settings_hints_never_run_into_the_inputs_at_80x24(paths):
    app = make_app(paths)
    async with app.run_test(size=SMALL) as pilot:
        await model_ready(pilot)
        await pilot.press("ctrl+s")
        await on_screen(pilot, SettingsScreen, "settings")
        for field in app.screen.query(".settings-field"):
            label = field.query_one(".settings-label")
            box = field.query_one(".settings-input")
            for text in label.query("Label"):
                assert text.region.right < box.region.x, f"{text.render()} touches its input"
