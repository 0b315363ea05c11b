"""The settings form's Presets tab: add, edit and delete the user's presets; they last."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Button, Input, OptionList, TabbedContent, TextArea

from llama_chat.tui.screens.settings import SettingsScreen
from llama_chat.tui.screens.settings_presets import PresetsPane
from llama_chat.tui.widgets.preset_completion import PresetCompletion
from tests.tui_pilot import SIZE, make_app, model_ready, on_screen, wait_for

pytestmark = pytest.mark.anyio


async def open_presets_tab(pilot) -> PresetsPane:
    await pilot.press("ctrl+s")
    await on_screen(pilot, SettingsScreen, "settings")
    pilot.app.screen.query_one(TabbedContent).active = "settings-presets"
    await pilot.pause()
    return pilot.app.screen.query_one(PresetsPane)


def fill(pane: PresetsPane, **fields: str) -> None:
    for key, value in fields.items():
        if key == "template":
            pane.query_one("#preset-template", TextArea).load_text(value)
        else:
            pane.query_one(f"#preset-{key}", Input).value = value


async def press(pilot, pane: PresetsPane, button: str) -> None:
    # Button.press(), not Enter: a key press within 0.2 s of the last one is ignored.
    pane.query_one(f"#preset-{button}", Button).press()
    await pilot.pause()


def error_text(pane: PresetsPane) -> str:
    return str(pane.query_one("#preset-error").render()).strip()


def saved(paths) -> list[dict]:
    return json.loads(paths.presets_file.read_text()) if paths.presets_file.exists() else []


async def offered(pilot) -> list[str]:
    app = pilot.app
    app.chat.prompt.focus()
    await pilot.press("slash")
    completion = app.chat.query_one(PresetCompletion)
    await wait_for(pilot, lambda: completion.display, "the completion")
    names = [p.name for p in completion.presets]
    await pilot.press("escape", "backspace")
    return names


async def test_a_preset_added_in_settings_is_offered_at_once_and_after_a_restart(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        pane = await open_presets_tab(pilot)
        fill(pane, name="tidy", description="Tidy it", template="Tidy:\n{text}", temperature="0.3")
        await press(pilot, pane, "save")
        assert saved(paths) == [
            {
                "name": "tidy",
                "description": "Tidy it",
                "template": "Tidy:\n{text}",
                "system_prompt": None,
                "temperature": 0.3,
            }
        ]
        await pilot.press("escape")  # close the settings: the preset is saved already
        assert "tidy" in await offered(pilot)
    again = make_app(paths)
    async with again.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        assert "tidy" in await offered(pilot)


async def test_a_bad_preset_says_why_in_one_line_and_is_not_saved(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        pane = await open_presets_tab(pilot)
        fill(pane, name="tidy", template="no placeholder here")
        await press(pilot, pane, "save")
        await wait_for(pilot, lambda: "{text}" in error_text(pane), "the template's error")
        assert "must contain {text}" in error_text(pane) and "\n" not in error_text(pane)
        fill(pane, template="{text}", temperature="warm")
        await press(pilot, pane, "save")
        await wait_for(pilot, lambda: "warm" in error_text(pane), "the temperature's error")
        assert error_text(pane) == "temperature “warm” is not a number"
        assert saved(paths) == []


async def test_a_user_preset_is_edited_renamed_and_deleted(paths):
    paths.presets_file.write_text(
        json.dumps([{"name": "tidy", "description": "Tidy it", "template": "Tidy: {text}"}])
    )
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        pane = await open_presets_tab(pilot)
        options = pane.query_one("#preset-list", OptionList)
        options.highlighted = [o.id for o in options.options].index("tidy")
        options.action_select()
        await pilot.pause()
        assert pane.query_one("#preset-template", TextArea).text == "Tidy: {text}"
        fill(pane, name="neat", description="Neaten it")
        await press(pilot, pane, "save")
        assert [(p["name"], p["description"]) for p in saved(paths)] == [("neat", "Neaten it")]
        await press(pilot, pane, "delete")
        assert saved(paths) == []
        await pilot.press("escape")
        names = await offered(pilot)
        assert "tidy" not in names and "neat" not in names


async def test_builtin_presets_are_listed_read_only(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        pane = await open_presets_tab(pilot)
        options = pane.query_one("#preset-list", OptionList)
        assert "built in" in str(options.get_option("summarise").prompt)
        options.highlighted = 0
        options.action_select()
        await pilot.pause()
        assert pane.query_one("#preset-name", Input).value == "summarise"
        assert pane.query_one("#preset-save", Button).disabled
        assert pane.query_one("#preset-delete", Button).disabled
        assert pane.query_one("#preset-template", TextArea).disabled
