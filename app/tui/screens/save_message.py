"""Saving one message to a Markdown file: a path to confirm or change, and no silent overwrite."""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


def suggested_path(folder: Path, chat_title: str | None, kind: str) -> Path:
    """A file name in ``folder`` from the chat's title that no file has yet."""
    slug = re.sub(r"[^a-z0-9]+", "-", (chat_title or "chat").lower()).strip("-")[:40] or "chat"
    path = folder / f"{slug}-{kind.replace(' ', '-')}.md"
    number = 2
    while path.exists():
        path = folder / f"{slug}-{kind.replace(' ', '-')}-{number}.md"
        number += 1
    return path


class SaveMessageDialog(ModalScreen[Path | None]):
    """Where to write the message; the path it was written to, or None when cancelled.

    A relative path is taken from the folder the app was started in. An existing file is
    replaced only after a second Save.
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")]

    def __init__(self, text: str, suggested: Path) -> None:
        super().__init__(classes="dialog-screen")
        self.text = text
        self.suggested = suggested
        self._replace: Path | None = None
        """The existing file the user was warned about: the next Save replaces it."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save as Markdown", classes="dialog-question")
            yield Input(str(self.suggested), id="save-path")
            yield Label("", id="save-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Input.Changed)
    def _changed(self) -> None:
        self._replace = None
        self._error("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        typed = self.query_one("#save-path", Input).value.strip()
        if not typed:
            self._error("Type a file name.")
            return
        path = Path(typed).expanduser()
        if path.is_dir():
            self._error(f"{path} is a folder: add a file name.")
            return
        if path.exists() and self._replace != path:
            self._replace = path
            self._error(f"{path.name} exists. Save again to replace it.")
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.text, encoding="utf-8")
        except OSError as exc:
            self._error(f"Could not save: {exc.strerror or exc}.")
            return
        self.dismiss(path)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def _error(self, message: str) -> None:
        self.query_one("#save-error", Label).update(Text(message))
