"""Keys from one source: the Bindings drive the footer, the help screen and the palette."""

from __future__ import annotations

import pytest
from textual.binding import Binding
from textual.widgets import DataTable, OptionList
from textual.widgets._footer import FooterKey

from llama_chat.tui.app import LlamaChatApp
from llama_chat.tui.keys import CHAT_KEYS
from llama_chat.tui.screens.chat import ChatScreen
from llama_chat.tui.screens.help import HelpScreen
from llama_chat.tui.widgets.prompt_input import PromptInput
from llama_chat.tui.widgets.session_sidebar import SessionSidebar
from tests.tui_pilot import (
    SIZE,
    footer_shows,
    make_app,
    model_ready,
    on_screen,
    seed_chat,
    wait_for,
)

pytestmark = pytest.mark.anyio


def palette_text(app: LlamaChatApp) -> str:
    lists = app.screen.query(OptionList)
    if not lists:
        return ""
    options = lists.first(OptionList)
    return "\n".join(
        str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
    )


async def test_help_lists_every_binding_with_its_tooltip(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await on_screen(pilot, HelpScreen, "help")
        table = app.screen.query_one(DataTable)
        rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        actions = [action for _, action, _ in rows]
        everything = [
            *CHAT_KEYS,
            *LlamaChatApp.BINDINGS,
            *PromptInput.BINDINGS,
            *SessionSidebar.BINDINGS,
        ]
        assert actions == [b.tooltip or b.description for b in everything]
        keys = {key: action for key, action, _ in rows}
        assert [binding_id for _, _, binding_id in rows] == [b.id for b in everything]
        assert "r" in keys and "e" in keys and any("d" in k for k in keys), "sidebar keys"
        assert ("esc", "stop") in [(key, binding_id) for key, _, binding_id in rows]
        assert any("^j" in k for k in keys), "Ctrl+J (new line) is listed"
        await pilot.press("escape")
        assert app.screen is app.chat


async def test_the_palette_offers_every_chat_screen_binding_by_its_description(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        commands = {c.title: c.help for c in app.get_system_commands(app.chat)}
        for binding in ChatScreen.BINDINGS:
            assert isinstance(binding, Binding)
            assert commands[binding.description] == binding.tooltip
        assert "Export chat as JSON" in commands


async def test_a_palette_command_runs_the_same_action_as_its_key(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await pilot.press("ctrl+b", "ctrl+b")  # to the chats' search, and back: hidden
        assert not app.chat.sidebar.display
        await pilot.press("ctrl+p")
        await pilot.press(*"Chats")
        await wait_for(pilot, lambda: "Chats" in palette_text(app), "the command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.sidebar.display, "the sidebar to show")


async def test_the_palette_opens_chats_by_name(paths):
    session_id = seed_chat(paths, "Sourdough", [("user", "Bread"), ("assistant", "Flour")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"sourdough")
        await wait_for(pilot, lambda: "Open chat: Sourdough" in palette_text(app), "the hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session_id == session_id, "the chat to open")


async def test_enter_in_an_empty_box_neither_sends_nor_inserts_a_newline(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press("enter", "enter")
        assert app.chat.prompt.text == ""
        assert not app.busy and app.session_id is None


def footer_keys(app: LlamaChatApp) -> list[FooterKey]:
    return list(app.chat.query(FooterKey))


async def test_ctrl_e_edits_the_last_message_and_the_footer_says_esc_cancels(paths):
    session_id = seed_chat(paths, "Bread", [("user", "Flour?"), ("assistant", "Yes")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.controller.open_session(session_id)
        await wait_for(pilot, lambda: app.session_id == session_id, "the chat")
        await pilot.press("ctrl+l")
        assert not app.editing, "Ctrl+L is left to the terminal's clear-screen habit"
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.editing, "editing")
        await footer_shows(pilot, {"Cancel edit"})
        assert "Stop" not in [key.description for key in footer_keys(app)]
        await pilot.press("escape")
        assert not app.editing and app.chat.prompt.text == ""


async def test_the_keys_setting_remaps_a_binding_and_help_shows_it(paths):
    app = make_app(paths, keys={"edit_last": "ctrl+u", "no_such_binding": "f5"})
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        assert any("no_such_binding" in m for m, _ in app.notices)
        seed_id = seed_chat(paths, "Soup", [("user", "Salt?"), ("assistant", "A pinch")])
        app.controller.open_session(seed_id)
        await wait_for(pilot, lambda: app.session_id == seed_id, "the chat")
        await pilot.press("ctrl+e")
        assert not app.editing
        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: app.editing, "editing with the remapped key")
        await pilot.press("escape", "f1")
        await on_screen(pilot, HelpScreen, "help")
        table = app.screen.query_one(DataTable)
        rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        assert ("^u", "edit_last") in [(key, binding_id) for key, _, binding_id in rows]


async def test_tab_moves_the_focus_unless_the_preset_list_is_open(paths):
    # The preset list's Tab binding replaces Textual's on this screen: Tab must still leave
    # the message box, and Down/Up must still reach the list while the message cursor is off.
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press("tab")
        await pilot.pause()
        assert not app.chat.prompt.has_focus
        await pilot.press("shift+tab")
        await pilot.pause()
        assert app.chat.prompt.has_focus
        await pilot.press("slash", "down", "tab")
        await pilot.pause()
        assert app.chat.prompt.has_focus and app.chat.prompt.text.startswith("/")
        assert app.chat.prompt.text.strip() != "/" and app.chat.prompt.text.endswith(" ")
