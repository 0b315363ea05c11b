"""The prompt library in the chat box: "/" completion, running a preset, unknown names.

The real app on the demo checkpoint. What the engine used for a turn is read on the engine
thread as the turn starts (the controller's event callback runs there, in order).
"""

from __future__ import annotations

import json

import pytest

from llama_chat.events import Event, TurnStarted
from llama_chat.tui.widgets.message import UserMessage
from llama_chat.tui.widgets.preset_completion import PresetCompletion
from tests.tui_pilot import SIZE, keys_then_turn, make_app, model_ready, send, wait_for, widgets

pytestmark = pytest.mark.anyio

TIDY = {
    "name": "tidy",
    "description": "Tidy it up",
    "template": "Tidy this up:\n\n{text}",
    "system_prompt": "You are a meticulous copy editor.",
    "temperature": 0.7,
}


def record_turn_settings(app) -> list[tuple[str, float]]:
    """(system prompt, temperature) the conversation holds as each answer starts."""
    seen: list[tuple[str, float]] = []
    controller = app.controller
    forward = controller.on_event

    def on_event(event: Event) -> None:
        if isinstance(event, TurnStarted):
            conversation = controller.open_conversation
            seen.append((conversation.system_prompt, conversation.settings.sampling.temperature))
        forward(event)

    controller.on_event = on_event
    return seen


def completion_names(app) -> list[str]:
    completion = app.chat.query_one(PresetCompletion)
    return [p.name for p in completion.presets] if completion.display else []


async def test_slash_opens_the_presets_and_typing_filters_them(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: completion_names(app), "the completion")
        assert {"summarise", "shorten", "translate", "fix", "reply"} <= set(completion_names(app))
        await pilot.press("s", "h")
        await pilot.pause()
        assert completion_names(app) == ["shorten"]
        await pilot.press("backspace", "backspace", "t", "r")
        await pilot.pause()
        assert completion_names(app) == ["translate"]
        await pilot.press("tab")
        await pilot.pause()
        assert app.chat.prompt.text == "/translate "
        assert app.chat.prompt.border_title == "/translate WORD TEXT (no text: the last answer)"


async def test_down_and_tab_pick_a_preset_and_enter_does_not_send(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: completion_names(app), "the completion")
        first, second = completion_names(app)[:2]
        await pilot.press("down", "up", "down", "tab")
        await pilot.pause()
        assert app.chat.prompt.text == f"/{second} " and not completion_names(app)
        app.chat.prompt.clear()
        await pilot.press("slash", "enter")
        await pilot.pause()
        assert app.chat.prompt.text == f"/{first} " and not app.busy


async def test_esc_closes_the_list_and_keeps_the_text(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await pilot.press("slash", "f")
        await wait_for(pilot, lambda: completion_names(app), "the completion")
        await pilot.press("escape")
        await pilot.pause()
        assert not completion_names(app) and app.chat.prompt.text == "/f"
        await pilot.press("i")  # still typing the name: it stays closed
        await pilot.pause()
        assert not completion_names(app) and app.chat.prompt.text == "/fi"


async def test_a_preset_on_the_typed_text_holds_for_that_turn_only(paths):
    paths.presets_file.write_text(json.dumps([TIDY]))
    app = make_app(paths, system_prompt="Be brief.")
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        seen = record_turn_settings(app)
        await send(pilot, "/tidy teh cat sat")
        sent = "Tidy this up:\n\nteh cat sat"
        assert [w.text for w in widgets(app, UserMessage)] == [sent]
        await send(pilot, "Thanks")
        assert seen == [("You are a meticulous copy editor.", 0.7), ("Be brief.", 0.0)]
        stored = app.controller.sessions.active_path(app.session_id)
        assert [m.content for m in stored if m.role == "user"] == [sent, "Thanks"]
        info = app.controller.sessions.get_session(app.session_id)
        assert info.system_prompt == "Be brief."
        assert app.chat.prompt.prompt_history[-2] == "/tidy teh cat sat"


async def test_a_preset_in_an_empty_box_works_on_the_last_answer(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hello")
        answer = app.controller.last_answer()
        assert answer
        app.chat.prompt.focus()
        await pilot.press(*"/shorten")
        await keys_then_turn(pilot, "enter", "enter")  # pick, then send
        shorten = [p for p in app.chat.completion.preset_library().all() if p.name == "shorten"][0]
        assert widgets(app, UserMessage)[-1].text == shorten.apply(answer)


async def test_a_preset_with_an_argument_takes_the_word_after_its_name(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "/translate French Good morning")
        sent = widgets(app, UserMessage)[-1].text
        assert "into French." in sent and sent.endswith("\n\nGood morning")


async def test_an_unknown_preset_warns_and_leaves_the_text_in_the_box(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press(*"/nosuch words", "enter")
        await pilot.pause()
        assert app.chat.prompt.text == "/nosuch words"
        assert any("no preset 'nosuch'" in m and s == "warning" for m, s in app.notices)
        assert not app.busy and app.session_id is None and not widgets(app, UserMessage)


async def test_a_preset_with_nothing_to_work_on_warns_and_loses_nothing(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press(*"/summarise ", "enter")
        await pilot.pause()
        assert app.chat.prompt.text == "/summarise "
        assert any("/summarise works on text" in m for m, _ in app.notices)
        assert not app.busy and not widgets(app, UserMessage)
