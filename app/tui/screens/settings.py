"""The settings form: model precision, sampling, prompts, context and memory, tools, theme.

Every field is checked with ``validate_setting`` as it is typed and its error shown under it;
the memory needed for the chosen precision, context limit and KV-cache bits is recomputed live,
and a combination that will not fit in this machine's memory cannot be saved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Switch, TextArea

from llama_chat.models.store import checkpoint_folder_problem, memory_check
from llama_chat.settings import QUANT_LEVELS, SettingError, Settings, validate_setting
from llama_chat.tui.screens.settings_presets import general_tab, presets_tab, settings_tabs
from llama_chat.tui.state import chat_app
from mlx_model import SAMPLING_LIMITS, ModelConfig, packed_kv_decodes_slower


@dataclass(frozen=True)
class SettingsResult:
    settings: Settings
    session_system_prompt: str | None
    """The open chat's own system prompt when it was changed, else None."""


def _optional_int(text: str) -> int | None:
    return int(text) if text.strip() else None


# Typed fields: (setting, label, hint, how to read the text box); a sampling field's hint is
# the engine's own description of it (SAMPLING_LIMITS), as the command line's help is.
_SAYS = {key: limit.described for key, limit in SAMPLING_LIMITS.items()}
NUMBER_FIELDS: tuple[tuple[str, str, str, Callable[[str], Any]], ...] = (
    ("temperature", "Temperature", _SAYS["temperature"], float),
    ("top_p", "Top-p", _SAYS["top_p"], float),
    ("top_k", "Top-k", _SAYS["top_k"], int),
    ("min_p", "Min-p", _SAYS["min_p"], float),
    ("repetition_penalty", "Repetition penalty", _SAYS["repetition_penalty"], float),
    ("max_tokens", "Max tokens", "longest answer, in tokens", int),
    ("seed", "Seed", _SAYS["seed"], _optional_int),
)
KV_CHOICES: tuple[tuple[str, str], ...] = (("16-bit (full precision)", "16"), ("8-bit", "8"))


def kv_bits_hint() -> str:
    """8-bit K/V always halve the cache's memory; on MLX's CPU backend they also decode slower."""
    slower = " but decodes slower on CPU" if packed_kv_decodes_slower() else ""
    return f"8-bit halves the cache's memory{slower}"


class SettingsScreen(ModalScreen[SettingsResult | None]):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="settings.save", tooltip="Save and apply"),
        Binding("escape", "cancel", "Cancel", id="settings.cancel", tooltip="Close, keep old"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        model_config: ModelConfig,
        session_system_prompt: str | None,
        themes: Iterable[str],
        settings_file: Path,
        data_dir: Path,
        presets_file: Path,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.settings = settings
        self.settings_file = settings_file
        self.data_dir = data_dir
        self.presets_file = presets_file
        self.model_dirs = dict(settings.model_dir)
        """The model folder per precision as edited; the box shows the selected precision's."""
        self.folder_quant = settings.quant
        self.model_config = model_config
        self.session_system_prompt = session_system_prompt
        self.themes = sorted(set(themes) | {settings.theme})
        self.errors: dict[str, str] = {}

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="settings"):
            yield Label("Settings", classes="dialog-question")
            with settings_tabs():
                with general_tab():
                    yield from self._general()
                yield presets_tab(self.presets_file)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def _general(self) -> ComposeResult:
        s = self.settings
        with VerticalScroll(id="settings-form"):
            yield Label(
                Text(f"Saved in {self.settings_file}\nChats are kept in {self.data_dir}"),
                id="settings-paths",
                classes="settings-hint",
            )
            yield from self._section("Model")
            yield from self._field(
                "quant",
                "Precision",
                "switching reloads the model and keeps the chat",
                Select(
                    [(q, q) for q in QUANT_LEVELS], value=s.quant, allow_blank=False, id="quant"
                ),
            )
            yield from self._field(
                "model_dir",
                "Model folder",
                "a checkpoint on disk for this precision; empty: download it",
                Input(
                    s.model_dir.get(s.quant, ""),
                    placeholder="empty: the standard download",
                    id="model_dir",
                ),
            )
            yield from self._section("Sampling")
            for key, label, hint, _ in NUMBER_FIELDS:
                value = getattr(s, key)
                yield from self._field(
                    key, label, hint, Input("" if value is None else str(value), id=key)
                )
            yield from self._section("System prompt")
            if self.session_system_prompt is not None:
                yield from self._field(
                    "session_system_prompt",
                    "This chat",
                    "changing it re-reads the chat with the new instructions",
                    TextArea(
                        self.session_system_prompt,
                        id="session_system_prompt",
                        soft_wrap=True,
                        tab_behavior="focus",
                    ),
                )
            yield from self._field(
                "system_prompt",
                "New chats",
                "the default for chats started from now on",
                TextArea(s.system_prompt, id="system_prompt", soft_wrap=True, tab_behavior="focus"),
            )
            yield from self._section("Context and memory")
            yield from self._field(
                "context_limit",
                "Context limit",
                "tokens kept in the conversation",
                Input(str(s.context_limit), id="context_limit"),
            )
            yield from self._field(
                "kv_bits",
                "KV cache",
                kv_bits_hint(),
                Select(KV_CHOICES, value=str(s.kv_bits or 16), allow_blank=False, id="kv_bits"),
            )
            yield from self._switch(
                "rolling_memory", s, "Rolling memory: summarise turns that no longer fit"
            )
            yield Label("", id="memory-fit")
            yield from self._section("Privacy and tools")
            yield from self._switch("offline", s, "Offline: never contact the Hugging Face Hub")
            yield from self._switch(
                "tools", s, "Tools: offer calculator and files (longer prompts)"
            )
            yield from self._field(
                "allowed_folders",
                "Folders tools may read",
                "one per line; the file tools touch nothing else",
                TextArea("\n".join(s.allowed_folders), id="allowed_folders", tab_behavior="focus"),
            )
            yield from self._section("Look")
            yield from self._field(
                "theme",
                "Theme",
                "",
                Select([(t, t) for t in self.themes], value=s.theme, allow_blank=False, id="theme"),
            )

    @staticmethod
    def _section(title: str) -> ComposeResult:
        yield Label(title, classes="settings-section")

    @staticmethod
    def _switch(key: str, settings: Settings, label: str) -> ComposeResult:
        with Horizontal(classes="switch-row"):
            yield Switch(getattr(settings, key), id=key)
            yield Label(label)

    @staticmethod
    def _field(key: str, label: str, hint: str, widget: Any) -> ComposeResult:
        if isinstance(widget, (Input, Select)):
            widget.compact = True  # one line each: several fields show at once at 80×24
        with Horizontal(classes="settings-field"):
            with Vertical(classes="settings-label"):
                yield Label(label)
                if hint:
                    yield Label(hint, classes="settings-hint")
            with Vertical(classes="settings-input"):
                yield widget
                yield Label("", id=f"{key}-error", classes="field-error")

    def on_mount(self) -> None:
        self._check_memory()
        self.query_one("#quant", Select).focus()

    # -- live checks --------------------------------------------------------------------------

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self._read(event.input.id)
        if event.input.id == "context_limit":
            self._check_memory()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "quant" and event.value != self.folder_quant:
            # The folder box belongs to one precision: keep its text, show the new one's.
            self._store_folder()
            self.folder_quant = str(event.value)
            self.query_one("#model_dir", Input).value = self.model_dirs.get(self.folder_quant, "")
        if event.select.id in ("quant", "kv_bits"):
            self._check_memory()

    @on(TextArea.Changed, "#allowed_folders")
    def _folders_changed(self) -> None:
        self._read("allowed_folders")

    def _show_error(self, key: str, message: str | None) -> None:
        if message:
            self.errors[key] = message
        else:
            self.errors.pop(key, None)
        labels = self.query(f"#{key}-error")
        if labels:
            labels.first(Label).update(Text(message or ""))

    def _read(self, key: str) -> Any:
        """The field's validated value; records (and shows) the error and returns None if bad."""
        try:
            value = self._raw(key)
            value = validate_setting(key, value)
        except SettingError as exc:
            self._show_error(key, f"Expected {exc.expected}.")
            return None
        except ValueError as exc:
            self._show_error(key, str(exc))
            return None
        self._show_error(key, None)
        return value

    def _store_folder(self) -> None:
        text = self.query_one("#model_dir", Input).value.strip()
        if text:
            self.model_dirs[self.folder_quant] = text
        else:
            self.model_dirs.pop(self.folder_quant, None)

    def _raw(self, key: str) -> Any:
        parsers = {k: parse for k, _, _, parse in NUMBER_FIELDS} | {"context_limit": int}
        if key in parsers:
            text = self.query_one(f"#{key}", Input).value.strip()
            try:
                return parsers[key](text)
            except ValueError:
                kind = "a whole number" if parsers[key] is not float else "a number"
                raise ValueError(f"“{text}” is not {kind}.") from None
        if key in ("quant", "theme"):
            return self.query_one(f"#{key}", Select).value
        if key == "kv_bits":
            return None if self.query_one("#kv_bits", Select).value == "16" else 8
        if key == "system_prompt":
            return self.query_one("#system_prompt", TextArea).text
        if key in ("offline", "tools", "rolling_memory"):
            return self.query_one(f"#{key}", Switch).value
        if key == "model_dir":
            self._store_folder()
            for quant, text in self.model_dirs.items():
                if text == self.settings.model_dir.get(quant):
                    continue  # only new folders are checked; a saved one may be offline
                folder = Path(text).expanduser()
                problem = (
                    f"{folder} is not a folder." if not folder.is_dir() else None
                ) or checkpoint_folder_problem(folder)
                if problem:
                    where = "" if quant == self.folder_quant else f"{quant}: "
                    raise ValueError(where + problem)
            return dict(self.model_dirs)
        if key == "allowed_folders":
            lines = self.query_one("#allowed_folders", TextArea).text.splitlines()
            folders = [line.strip() for line in lines if line.strip()]
            for folder in folders:
                if not Path(folder).expanduser().is_dir():
                    raise ValueError(f"{folder} is not a folder on this computer.")
            return folders
        raise KeyError(key)

    def _check_memory(self) -> bool:
        """Show what the model needs at these settings; False if it will not fit."""
        label = self.query_one("#memory-fit", Label)
        quant, context, kv_bits = (self._read(k) for k in ("quant", "context_limit", "kv_bits"))
        if quant is None or context is None:
            label.update("Memory: fix the fields above to see what the model needs.")
            return False
        summary, problem = memory_check(self.model_config, quant, context, kv_bits)
        label.update(Text(problem or f"Memory: {summary}"))
        label.set_class(problem is not None, "-problem")
        self._show_error("memory", problem)
        return problem is None

    # -- result -------------------------------------------------------------------------------

    def collect(self) -> SettingsResult | None:
        """The new settings, or None (with every problem shown) if any field is bad."""
        keys = [k for k, _, _, _ in NUMBER_FIELDS] + (
            "quant model_dir system_prompt context_limit kv_bits rolling_memory offline tools"
            " allowed_folders theme"
        ).split()
        values = {key: self._read(key) for key in keys}
        fits = self._check_memory()
        if self.errors or not fits:
            return None
        session_prompt = None
        if self.session_system_prompt is not None:
            text = self.query_one("#session_system_prompt", TextArea).text
            if text != self.session_system_prompt:
                session_prompt = text
        return SettingsResult(dataclasses.replace(self.settings, **values), session_prompt)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        result = self.collect()
        if result is None:
            self.notify("Some settings need fixing (see the red notes).", severity="error")
            return
        self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def settings_screen(app: App) -> SettingsScreen:
    """The settings form for the app's current settings (and the open chat's system prompt)."""
    state = chat_app(app)
    session_prompt = None
    if state.session_id is not None:
        session_prompt = state.controller.queries.get_session(state.session_id).system_prompt
    return SettingsScreen(
        state.settings,
        model_config=state.reference_config(),
        session_system_prompt=session_prompt,
        themes=app.available_themes,
        settings_file=state.paths.settings_file,
        data_dir=state.paths.data_dir,
        presets_file=state.paths.presets_file,
    )


def apply_settings_result(app: App, result: SettingsResult | None) -> None:
    """Apply what the form returned (None: cancelled); the controller reloads what must be."""
    if result is not None:
        chat_app(app).apply_settings(result.settings, result.session_system_prompt)
        app.notify("Settings saved.")


def open_settings(app: App) -> None:
    """Show the settings form; saving applies it."""
    app.push_screen(settings_screen(app), partial(apply_settings_result, app))
