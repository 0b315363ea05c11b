"""The settings form's "Presets" tab: the prompt library, the user's presets editable.

Built-in presets are listed (marked, read-only); the user's own can be added, edited and
deleted. Each save or delete goes to presets.json at once through PresetLibrary (the settings'
own Save is for the other tabs), and the chat box's "/" completion reads the file afresh, so a
new preset is offered straight away. A preset that cannot be saved says why in one line.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, OptionList, TabbedContent, TabPane, TextArea
from textual.widgets.option_list import Option

from llama_chat.chat.presets import Preset, PresetError, PresetLibrary
from mlx_model import SAMPLING_LIMITS


def settings_tabs() -> TabbedContent:
    """The settings form's tabs: General (the settings file) and Presets."""
    return TabbedContent(id="settings-tabs")


def general_tab() -> TabPane:
    return TabPane("General", id="settings-general")


def presets_tab(presets_file: Path) -> TabPane:
    return TabPane(
        "Presets",
        PresetsPane(PresetLibrary.load(presets_file), id="presets-pane"),
        id="settings-presets",
    )


class PresetsPane(VerticalScroll):
    """Scrolls as a whole: every field and button is reachable at 80×24."""

    BINDINGS = [
        Binding(
            "ctrl+s",
            "save_preset",
            "Save preset",
            id="settings.save_preset",
            tooltip="Save the preset being edited (in the Presets tab)",
        ),
    ]

    def __init__(self, library: PresetLibrary, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.library = library
        self.editing: str | None = None
        """The name of the user preset in the form (None: a new one)."""

    def compose(self) -> ComposeResult:
        yield Label(
            "Use one by typing /name in the message box. Built-ins are read-only (yours may "
            "take a built-in's name to replace it).",
            classes="settings-hint",
        )
        yield OptionList(id="preset-list")
        yield Label("Name (lowercase, e.g. tidy)")
        yield Input(id="preset-name", placeholder="tidy")
        yield Label("Description")
        yield Input(id="preset-description", placeholder="what it does, shown in the list")
        yield Label("Template: {text} is the text, {arg} a word typed after the name")
        yield TextArea(id="preset-template", soft_wrap=True, tab_behavior="focus")
        yield Label("System prompt for its answers (optional)")
        yield Input(id="preset-system", placeholder="empty: the chat's own")
        yield Label(f"Temperature (optional, {SAMPLING_LIMITS['temperature'].expected})")
        yield Input(id="preset-temperature", placeholder="empty: the chat's own")
        yield Label("", id="preset-error", classes="field-error")
        with Horizontal(id="preset-buttons"):
            yield Button("New", id="preset-new")
            yield Button("Save preset", id="preset-save", variant="primary")
            yield Button("Delete", id="preset-delete", variant="error")

    def on_mount(self) -> None:
        self._show_list()
        self._edit(None)

    # -- the list -----------------------------------------------------------------------------

    def _show_list(self, highlight: str | None = None) -> None:
        options = self.query_one("#preset-list", OptionList)
        options.clear_options()
        presets = self.library.all()
        options.add_options(Option(_row(p), id=p.name) for p in presets)
        names = [p.name for p in presets]
        options.highlighted = names.index(highlight) if highlight in names else None

    @on(OptionList.OptionSelected, "#preset-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._edit(self.library.get(str(event.option.id)))

    def _edit(self, preset: Preset | None) -> None:
        """Fill the form with ``preset`` (None: empty, for a new one); built-ins read-only."""
        read_only = preset is not None and preset.builtin
        self.editing = preset.name if preset is not None and not preset.builtin else None
        values = {
            "#preset-name": preset.name if preset else "",
            "#preset-description": preset.description if preset else "",
            "#preset-system": (preset.system_prompt or "") if preset else "",
            "#preset-temperature": ""
            if preset is None or preset.temperature is None
            else str(preset.temperature),
        }
        for selector, value in values.items():
            field = self.query_one(selector, Input)
            field.value = value
            field.disabled = read_only
        template = self.query_one("#preset-template", TextArea)
        template.load_text(preset.template if preset else "")
        template.disabled = read_only
        self.query_one("#preset-save", Button).disabled = read_only
        self.query_one("#preset-delete", Button).disabled = self.editing is None
        self._error("built in: read-only; press New to write your own" if read_only else "")

    def _error(self, message: str) -> None:
        self.query_one("#preset-error", Label).update(Text(message))

    # -- changes ------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _keep_to_this_tab(self, event: Input.Changed | TextArea.Changed) -> None:
        event.stop()  # the form's other tabs check their own fields on every change

    @on(Button.Pressed, "#preset-new")
    def _new(self) -> None:
        self._edit(None)
        self.query_one("#preset-name", Input).focus()

    def read_form(self) -> Preset:
        """The preset in the form; raises PresetError naming the field that is wrong."""
        text = {
            key: self.query_one(f"#preset-{key}", Input).value.strip()
            for key in ("name", "description", "system", "temperature")
        }
        try:
            temperature = float(text["temperature"]) if text["temperature"] else None
        except ValueError:
            raise PresetError(f"temperature “{text['temperature']}” is not a number") from None
        return Preset(
            name=text["name"],
            description=text["description"] or text["name"],
            template=self.query_one("#preset-template", TextArea).text,
            system_prompt=text["system"] or None,
            temperature=temperature,
        )

    @on(Button.Pressed, "#preset-save")
    def action_save_preset(self) -> None:
        if self.query_one("#preset-save", Button).disabled:
            return
        try:
            preset = self.read_form()
            self.library.save(preset)
            if self.editing is not None and self.editing != preset.name:
                self.library.delete(self.editing)  # renamed
        except (PresetError, OSError) as exc:
            self._error(str(exc))
            return
        self._show_list(highlight=preset.name)
        self._edit(self.library.get(preset.name))
        self.notify(f"Preset /{preset.name} saved.")

    @on(Button.Pressed, "#preset-delete")
    def _delete(self) -> None:
        if self.editing is None:
            return
        name = self.editing
        try:
            self.library.delete(name)
        except (PresetError, OSError) as exc:
            self._error(str(exc))
            return
        self._show_list()
        self._edit(None)
        self.notify(f"Preset /{name} deleted.")


def _row(preset: Preset) -> Text:
    row = Text.assemble(("/" + preset.name, "bold"), "  ", preset.description)
    if preset.builtin:
        row.append(" · built in", style="dim")
    return row
