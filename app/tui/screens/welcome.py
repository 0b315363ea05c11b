"""First run without a model: download the default one, use a local folder, or try the demo."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from llama_chat.models.store import (
    HUB_REPOS,
    QUANT_BITS,
    ModelStore,
    ModelStoreError,
)
from llama_chat.tui.state import chat_app
from mlx_model import memory_needed

WELCOME_QUANT = "4bit"
"""What the welcome screen offers to download: the smallest download that answers well."""


@dataclass(frozen=True)
class WelcomeChoice:
    action: str
    """"download", "folder" (with ``folder``), "demo" or "quit"."""
    folder: Path | None = None


class WelcomeScreen(ModalScreen[WelcomeChoice]):
    BINDINGS = [Binding("ctrl+q", "choose('quit')", "Quit", id="welcome.quit")]

    def __init__(self, *, quant: str, repo: str, download_gb: float, reason: str) -> None:
        super().__init__(classes="dialog-screen")
        self.quant = quant
        self.repo = repo
        self.download_gb = download_gb
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="welcome"):
            yield Label("Welcome to llama-chat", classes="dialog-question")
            yield Label(
                Text(
                    "Llama 3.2 3B Instruct runs on this computer; nothing you type leaves it. "
                    "The model is not on this computer yet."
                ),
                classes="welcome-text",
            )
            yield Label(Text(self.reason), id="welcome-reason", classes="dialog-hint")
            yield Button(
                f"Download the {self.quant} model (about {self.download_gb:.1f} GB)",
                id="download",
                variant="primary",
            )
            yield Label(Text(f"from huggingface.co/{self.repo}"), classes="dialog-hint")
            yield Label("Or use a model folder already on disk:", classes="welcome-text")
            with Horizontal(id="welcome-folder-row"):
                yield Input(placeholder="/path/to/Llama-3.2-3B-Instruct-4bit", id="folder")
                yield Button("Use folder", id="use-folder")
            yield Label("", id="folder-error", classes="field-error")
            yield Button("Try the demo (tiny random model: the text is meaningless)", id="demo")
            yield Button("Quit", id="quit")
        yield Footer()

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
            self.query_one("#folder-error", Label).update(Text(problem))
            return
        self.dismiss(WelcomeChoice("folder", Path(text).expanduser()))


def folder_problem(text: str) -> str | None:
    """Why ``text`` is not a usable checkpoint folder, or None."""
    if not text:
        return "Type the folder that holds config.json and the .safetensors files."
    folder = Path(text).expanduser()
    if not folder.is_dir():
        return f"{folder} is not a folder."
    if not (folder / "config.json").is_file():
        return f"{folder} has no config.json: pick the checkpoint folder itself."
    if not any(folder.glob("*.safetensors")):
        return f"{folder} has no .safetensors weights."
    return None


def missing_model_files(app: App) -> list[str]:
    """Files of the configured model not on disk yet (none for the demo or a given folder)."""
    state = chat_app(app)
    if state.demo or state.model_dir is not None:
        return []
    try:
        return ModelStore(state.settings, offline=state.offline).missing_files(state.settings.quant)
    except (OSError, ModelStoreError):
        return []  # let the load itself fail and say why


async def run_welcome(app: App, reason: str) -> None:
    """Show the welcome screen (from a worker) and do what the user picked."""
    state = chat_app(app)
    config = state.reference_config()
    size = memory_needed(config, QUANT_BITS[WELCOME_QUANT], 0, None).weights_bytes
    choice = await app.push_screen_wait(
        WelcomeScreen(
            quant=WELCOME_QUANT,
            repo=HUB_REPOS[WELCOME_QUANT],
            download_gb=size / 1e9,
            reason=reason,
        )
    )
    settings = state.settings
    if choice.action == "quit":
        await state.action_quit()
    elif choice.action == "demo":
        await state.restart_with_demo()
    elif choice.action == "download":
        # Asking for the download is consent to go online for it.
        state.offline = state.controller.offline = False
        state.apply_settings(replace(settings, quant=WELCOME_QUANT, offline=False))
    elif choice.action == "folder":
        dirs = {**settings.model_dir, settings.quant: str(choice.folder)}
        state.apply_settings(replace(settings, model_dir=dirs))
