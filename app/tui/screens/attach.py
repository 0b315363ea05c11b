"""Choosing a file to attach: a folder tree starting in the current folder, and a path box that
completes with Tab. Also the question a summary-again asks (what to focus on)."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label

from llama_chat.tui.plain import plain


def complete_path(text: str, cwd: Path) -> str:
    """``text`` completed as far as the names in its folder agree (a folder gets its "/")."""
    typed = os.path.expanduser(text)
    folder, prefix = os.path.split(typed)
    where = Path(folder) if os.path.isabs(folder) else cwd / folder
    try:
        names = sorted(e.name for e in os.scandir(where) if e.name.startswith(prefix))
    except OSError:
        return text
    if not names:
        return text
    common = os.path.commonprefix(names)
    completed = os.path.join(folder, common)
    if len(names) == 1 and (where / common).is_dir():
        completed += os.sep
    if text.startswith("~") and not folder.startswith("~"):
        completed = "~" + completed.removeprefix(os.path.expanduser("~"))
    return completed


class PathInput(Input):
    BINDINGS = [
        Binding("tab", "complete", "Complete", id="attach.complete", tooltip="Complete the path")
    ]

    def action_complete(self) -> None:
        self.value = complete_path(self.value, Path.cwd())
        self.cursor_position = len(self.value)


class AttachScreen(ModalScreen[Path | None]):
    """A text file to attach; None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")]

    DEFAULT_CSS = """
    AttachScreen .dialog { height: 90%; }
    AttachScreen DirectoryTree { height: 1fr; min-height: 3; border: round $primary 40%; }
    """

    def __init__(self, start: Path | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.start = start or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Attach a file", classes="dialog-question")
            yield DirectoryTree(self.start, id="attach-tree")
            yield PathInput(placeholder="Path (Tab completes, Enter attaches)", id="attach-path")
            yield Label("", id="attach-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Attach", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(PathInput).focus()

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(Path(event.path))

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        text = self.query_one(PathInput).value.strip()
        path = Path(os.path.expanduser(text))
        if not path.is_absolute():
            path = self.start / path
        if not text or not path.is_file():
            self.query_one("#attach-error", Label).update(plain(f"There is no file {text!r}."))
            return
        self.dismiss(path)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class InstructionDialog(ModalScreen[str | None]):
    """What the new summary should do differently ("focus on the deadlines"); None: cancel."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")]

    def __init__(self, name: str) -> None:
        super().__init__(classes="dialog-screen")
        self.document_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(plain(f"Summarise {self.document_name} again"), classes="dialog-question")
            yield Input(placeholder="e.g. focus on the deadlines", id="instruction")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Summarise", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(self.query_one("#instruction", Input).value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
