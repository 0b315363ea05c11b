"""Keys from one source: the Bindings drive the footer, the help screen and the palette."""

from __future__ import annotations

import pytest
from textual.binding import Binding
from textual.widgets import DataTable, OptionList

from llama_chat.tui.app import LlamaChatApp
from llama_chat.tui.screens.chat import ChatScreen
from llama_chat.tui.screens.help import HelpScreen
from llama_chat.tui.widgets.prompt_input import PromptInput
from llama_chat.tui.widgets.session_sidebar import SessionSidebar
from tests.tui_pilot import SIZE, make_app, model_ready, on_screen, seed_chat, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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
        actions = [action for _, action in rows]
        everything = [
            *ChatScreen.BINDINGS,
            *LlamaChatApp.BINDINGS,
            *PromptInput.BINDINGS,
            *SessionSidebar.BINDINGS,
        ]
        assert actions == [b.tooltip or b.description for b in everything]
        keys = dict(rows)
        assert "Stop the answer being written" in keys["esc"]
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
        assert app.chat.sidebar.display
        await pilot.press("ctrl+p")
        await pilot.press(*"Chats")
        await wait_for(pilot, lambda: "Chats" in palette_text(app), "the command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.chat.sidebar.display, "the sidebar to hide")


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
