"""Keys arriving as a terminal delivers them: a burst in one go, not one key at a time.

Pilot's ``press`` waits for the app to settle after every key, which hides races between keys.
``burst`` posts every key at once, as the terminal driver does with one read. The real-terminal
tests (test_real_terminal.py) prove the same through a pseudo-terminal.
"""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Input

from llama_chat.tui.screens.settings import SettingsScreen
from llama_chat.tui.widgets.message import UserMessage
from tests.tui_pilot import SIZE, make_app, model_ready, on_screen, wait_for, widgets

pytestmark = pytest.mark.anyio


KEYS = {"enter": "\r", "tab": "\t", "escape": "\x1b"}
NAMES = {" ": "space", ".": "full_stop", ":": "colon"}


def burst(app, *parts: str) -> None:
    """Post every key of ``parts`` (key names from KEYS, or text) to the app in one go."""
    for part in parts:
        if part in KEYS:
            app.post_message(events.Key(part, KEYS[part]))
            continue
        for character in part:
            app.post_message(events.Key(NAMES.get(character, character), character))


async def test_a_burst_of_text_and_enter_sends_exactly_the_text(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        text = "Write a haiku about llamas and the mountains where they live"
        burst(app, text, "enter")
        await wait_for(pilot, lambda: widgets(app, UserMessage), "the message shown")
        assert [m.text for m in widgets(app, UserMessage)] == [text]
        assert app.chat.prompt.text == ""


async def test_an_enter_inside_a_burst_is_a_line_break(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        burst(app, "first line", "enter", "second line", "enter")  # an unbracketed paste
        await wait_for(pilot, lambda: widgets(app, UserMessage), "the message shown")
        assert [m.text for m in widgets(app, UserMessage)] == ["first line\nsecond line"]


async def test_a_paste_goes_into_the_box_whole(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        burst(app, "Note: ")
        app.post_message(events.Paste("one\ntwo"))
        burst(app, " end")
        await wait_for(pilot, lambda: app.chat.prompt.text.endswith("end"), "the typing")
        assert app.chat.prompt.text == "Note: one\ntwo end"


async def send_while_loading(pilot, text: str) -> None:
    """Type ``text`` and Enter while the model loads: the message waits in the box."""
    app = pilot.app
    await model_ready(pilot)
    app.model_state = "loading"  # as while a new precision loads
    burst(app, text, "enter")
    await wait_for(pilot, lambda: app.chat.prompt.waiting is not None, "the message to wait")


async def test_a_message_sent_while_loading_waits_and_goes_out_when_ready(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await send_while_loading(pilot, "hello there")
        assert widgets(app, UserMessage) == [] and app.chat.prompt.read_only
        app.model_state = "ready"
        await wait_for(pilot, lambda: widgets(app, UserMessage), "the message sent")
        assert [m.text for m in widgets(app, UserMessage)] == ["hello there"]
        assert not app.chat.prompt.read_only


async def test_a_count_of_the_draft_that_lands_later_leaves_the_wait_shown(paths):
    # The box counts its draft a moment after the typing stops; the count of a message that
    # went on to wait for the model came after, and wiped "waits for the model" off the box.
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await send_while_loading(pilot, "hello there")
        prompt = app.chat.prompt
        prompt.count_draft(0)
        await pilot.pause(0.5)  # the count's delay, and its worker
        assert "waits for the model" in prompt.border_subtitle


async def test_esc_takes_back_a_waiting_message(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await send_while_loading(pilot, "not yet")
        await pilot.press("escape")
        assert app.chat.prompt.waiting is None and not app.chat.prompt.read_only
        app.model_state = "ready"
        await pilot.pause(0.2)
        assert widgets(app, UserMessage) == []
        assert app.chat.prompt.text == "not yet"


async def test_fast_tabs_in_settings_put_each_value_in_its_own_field(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await pilot.press("ctrl+s")
        await on_screen(pilot, SettingsScreen, "the settings")
        burst(app, "tab", "tab", "0.3", "tab", "0.8", "tab", "7")
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#top_k", Input).value == "7", "top-k")
        values = [screen.query_one(f"#{key}", Input).value for key in ("temperature", "top_p")]
        assert values == ["0.3", "0.8"]
