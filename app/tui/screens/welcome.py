"""First run without a model: download it, use a local folder, try the demo, or open settings.

Every choice fits an 80×24 terminal without scrolling (the dialog still scrolls when a long
error needs the room). Offline, the demo and a folder on disk come first. Nothing it offers is
saved before it works: a chosen folder is checked first, and the settings it changes are saved
only once the model has loaded (app.apply_settings(..., save="after_load")).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from llama_chat.models.store import (
    HUB_REPOS,
    QUANT_BITS,
    ModelStore,
    ModelStoreError,
    checkpoint_folder_problem,
)
from llama_chat.tui.screens.settings import apply_settings_result, settings_screen
from llama_chat.tui.state import chat_app
from mlx_model import memory_needed


@dataclass(frozen=True)
class WelcomeChoice:
    action: str
    """"download", "folder" (with ``folder``), "demo", "settings" or "quit"."""
    folder: Path | None = None


class WelcomeScreen(ModalScreen[WelcomeChoice]):
    BINDINGS = [Binding("ctrl+q", "choose('quit')", "Quit", id="welcome.quit")]

    def __init__(
        self, *, quant: str, repo: str, download_gb: float, reason: str, offline: bool = False
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.quant = quant
        self.repo = repo
        self.download_gb = download_gb
        self.reason = reason
        self.offline = offline
        """Offline, what works without the network comes first; the download says it goes online."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="welcome"):
            yield Label("Welcome to llama-chat", classes="dialog-question")
            yield Label(
                Text("Llama 3.2 3B Instruct runs on this computer; nothing you type leaves it."),
                classes="welcome-text",
            )
            yield Label(Text(self.reason), id="welcome-reason", classes="dialog-hint")
            if self.offline:
                yield from self._demo_choice(primary=True)
                yield from self._folder_choice()
                yield from self._download_choice(primary=False)
            else:
                yield from self._download_choice(primary=True)
                yield from self._folder_choice()
                yield from self._demo_choice(primary=False)
            with Horizontal(id="welcome-end-row"):
                yield Button("Settings", id="settings")
                yield Button("Quit", id="quit")
        yield Footer()

    def _download_choice(self, *, primary: bool) -> ComposeResult:
        size = f"about {self.download_gb:.1f} GB"
        label = (
            f"Go online and download the {self.quant} model ({size})"
            if self.offline
            else f"Download the {self.quant} model ({size})"
        )
        yield Button(label, id="download", variant="primary" if primary else "default")
        yield Label(
            # One line at 80 columns; Settings changes the precision (the button names it).
            Text(f"from huggingface.co/{self.repo}"),
            classes="dialog-hint",
        )

    def _folder_choice(self) -> ComposeResult:
        yield Label("Or use a model folder already on disk:", classes="welcome-text")
        with Horizontal(id="welcome-folder-row"):
            yield Input(placeholder="/path/to/Llama-3.2-3B-Instruct-4bit", id="folder")
            yield Button("Use folder", id="use-folder")
        yield Label("", id="folder-error", classes="field-error")

    def _demo_choice(self, *, primary: bool) -> ComposeResult:
        yield Button(
            "Try the demo (tiny random model: the text is meaningless)",
            id="demo",
            variant="primary" if primary else "default",
        )

    @on(Button.Pressed, "#settings")
    def _settings(self) -> None:
        self.dismiss(WelcomeChoice("settings"))

    @on(Button.Pressed, "#download")
    def _download(self) -> None:
        self.dismiss(WelcomeChoice("download"))

    @on(Button.Pressed, "#demo")
    def _demo(self) -> None:
        self.dismiss(WelcomeChoice("demo"))

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.dismiss(WelcomeChoice("quit"))

    def action_choose(self, action: str) -> None:
        self.dismiss(WelcomeChoice(action))

    @on(Input.Submitted, "#folder")
    @on(Button.Pressed, "#use-folder")
    def _use_folder(self) -> None:
        text = self.query_one("#folder", Input).value.strip()
        problem = folder_problem(text)
        if problem:
            error = self.query_one("#folder-error", Label)
            error.update(Text(problem))
            error.add_class("-shown")
            return
        self.dismiss(WelcomeChoice("folder", Path(text).expanduser()))


def folder_problem(text: str) -> str | None:
    """Why ``text`` is not a usable checkpoint folder, or None."""
    if not text:
        return "Type the folder that holds config.json and the .safetensors files."
    folder = Path(text).expanduser()
    if not folder.is_dir():
        return f"{folder} is not a folder."
    return checkpoint_folder_problem(folder)


def model_problem(app: App) -> str | None:
    """Why the configured model cannot load without the user's help (a download to accept, a
    broken model folder to replace), or None (also for the demo or a folder given with --model).
    """
    state = chat_app(app)
    if state.demo or state.model_dir is not None:
        return None
    store = ModelStore(state.settings, offline=state.offline)
    quant = state.settings.quant
    try:
        folder = store.local_dir(quant)
        if folder is not None:
            problem = folder_problem(str(folder))
            return f"{problem} (settings: model folder for {quant})" if problem else None
        missing = store.missing_files(quant)
    except (OSError, ModelStoreError):
        return None  # let the load itself fail and say why
    return f"Not on disk yet: {', '.join(missing[:3])}." if missing else None


async def run_welcome(app: App, reason: str) -> None:
    """Show the welcome screen (from a worker) and do what the user picked."""
    state = chat_app(app)
    while True:
        settings = state.settings
        quant = settings.quant
        size = memory_needed(state.reference_config(), QUANT_BITS[quant], 0, None).weights_bytes
        choice = await app.push_screen_wait(
            WelcomeScreen(
                quant=quant,
                repo=HUB_REPOS[quant],
                download_gb=size / 1e9,
                reason=reason,
                offline=state.offline or settings.offline,
            )
        )
        if choice.action != "settings":
            break
        result = await app.push_screen_wait(settings_screen(app))
        if result is not None:
            # Loads the model with the new settings; if it is still missing, this comes back.
            apply_settings_result(app, result)
            return
    if choice.action == "quit":
        await state.action_quit()
    elif choice.action == "demo":
        await state.restart_with_demo()
    elif choice.action == "download":
        # Asking for the download is consent to go online for it, and to use the hub's copy
        # rather than a local folder set for this precision.
        state.offline = state.controller.offline = False
        dirs = {q: d for q, d in settings.model_dir.items() if q != quant}
        state.apply_settings(replace(settings, model_dir=dirs, offline=False), save="after_load")
    elif choice.action == "folder":
        dirs = {**settings.model_dir, quant: str(choice.folder)}
        state.apply_settings(replace(settings, model_dir=dirs), save="after_load")
