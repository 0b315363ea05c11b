"""Every action has a key that a default Terminal.app and iTerm2 deliver on a Mac.

mac_keys.py lists the keys a default Mac keeps (Mission Control's Ctrl+arrows, Option, Cmd, the
F-keys, Home/End/Page keys); every binding the app's classes declare needs a key off that list,
and shows it first (the footer and the help show a binding's first key). The Mac keys are then
driven in the real app."""

from __future__ import annotations

import pytest

from llama_chat.tui.mac_keys import app_bindings, binding_keys, captured_on_mac, mac_safe_keys
from llama_chat.tui.screens.help import HelpScreen
from tests.test_tui_branches import fish_chat, fish_chat_open, shown, switcher_texts
from tests.test_tui_cursor import open_chat
from tests.tui_pilot import (
    SIZE,
    keys_then_turn,
    make_app,
    model_ready,
    on_screen,
    open_and_settle,
    seed_chat,
    wait_for,
)

pytestmark = pytest.mark.anyio


def test_every_binding_has_a_key_a_default_mac_delivers():
    found = app_bindings()
    owners = {owned.owner for owned in found}
    assert {"ChatScreen", "LlamaChatApp", "PromptInput", "SessionSidebar"} <= owners
    assert {"HelpScreen", "SettingsScreen", "WelcomeScreen", "ToolApprovalScreen"} <= owners
    unreachable = [
        f"{owned.owner}: {owned.binding.id} ({owned.binding.key})"
        for owned in found
        if not mac_safe_keys(owned.binding.key)
    ]
    assert unreachable == []


def test_each_binding_shows_its_mac_key_first():
    not_first = [
        f"{owned.owner}: {owned.binding.id} ({owned.binding.key})"
        for owned in app_bindings()
        if captured_on_mac(binding_keys(owned.binding.key)[0]) is not None
    ]
    assert not_first == []


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("ctrl+left", "space"),
        ("ctrl+right", "space"),
        ("ctrl+up", "Mission Control"),
        ("ctrl+down", "App Exposé"),
        ("alt+up", "Option"),
        ("alt+shift+j", "Option"),
        ("super+c", "Cmd"),
        ("f1", "Fn"),
        ("shift+f5", "Fn"),
        ("pageup", "scrollback"),
        ("ctrl+home", "scrollback"),
        ("shift+enter", "Enter"),
    ],
)
def test_keys_a_default_mac_keeps_say_why(key, why):
    reason = captured_on_mac(key)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "key", ["ctrl+k", "ctrl+u", "question_mark", "escape", "left", "up", "enter", "ctrl+j", "k"]
)
def test_keys_a_mac_delivers_are_not_on_the_list(key):
    assert captured_on_mac(key) is None


def test_a_binding_with_only_mac_kept_keys_is_caught():
    assert mac_safe_keys("alt+up,ctrl+up") == []  # the message cursor's keys before
    assert mac_safe_keys("ctrl+k, alt+up,ctrl+up") == ["ctrl+k"]


# -- the Mac keys in the app ------------------------------------------------------------------


async def test_left_and_right_in_an_empty_box_switch_branches_and_move_in_text(paths):
    session_id = fish_chat(paths)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await fish_chat_open(pilot, session_id)
        app.chat.prompt.focus()
        await keys_then_turn(pilot, "ctrl+r")
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/2 ▶"], "2/2")
        await pilot.press("left")
        await wait_for(pilot, lambda: shown(app)[-1] == "Fish 1", "branch 1 by Left")
        await pilot.press("right")
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/2 ▶"], "branch 2 by Right")
        await pilot.press(*"ab", "left")  # with text: the box's cursor moves
        await pilot.pause()
        assert app.chat.prompt.cursor_location == (0, 1)
        assert switcher_texts(app) == ["◀ 2/2 ▶"]


async def test_ctrl_k_puts_the_cursor_on_the_newest_message_even_while_typing(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, [("user", "Hello"), ("assistant", "Hi there")])
        messages = app.chat.messages
        app.chat.prompt.focus()
        await pilot.press(*"draft", "ctrl+k")
        assert messages.selected is messages.selectable()[-1] and messages.has_focus
        assert app.chat.prompt.text == "draft"
        await pilot.press("question_mark")  # outside the box, ? opens the help
        await on_screen(pilot, HelpScreen, "help by ?")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen is app.chat, "the help closed by ?")


async def test_question_mark_in_the_box_is_typed(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await pilot.press(*"why?")
        assert app.chat.prompt.text == "why?" and app.screen is app.chat


async def test_ctrl_u_d_scroll_while_typing_and_ctrl_a_f_in_an_empty_box(paths):
    exchange = [("user", "A question"), ("assistant", "An answer.\n" * 6)] * 8
    session_id = seed_chat(paths, "Long", exchange)
    app = make_app(paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_and_settle(pilot, session_id)
        messages, prompt = app.chat.messages, app.chat.prompt
        prompt.focus()
        await pilot.pause()
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: messages.scroll_y == messages.max_scroll_y > 0, "the end")
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: messages.scroll_y == 0, "the top")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: messages.scroll_y > 0, "a page down")
        await pilot.press(*"draft", "ctrl+a")  # with text, Ctrl+A goes to the line's start
        assert prompt.cursor_location == (0, 0)
        scrolled = messages.scroll_y
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: messages.scroll_y > scrolled, "a page down while typing")
        scrolled = messages.scroll_y
        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: messages.scroll_y < scrolled, "a page up while typing")
        assert prompt.text == "draft" and prompt.has_focus
