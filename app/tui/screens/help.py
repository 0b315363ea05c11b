"""Every key, read from the Bindings themselves so the list cannot drift from what the keys do,
with the user's remappings (the ``keys`` setting) applied, and where the app keeps its files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label

from llama_chat.tui.keys import effective_key


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(
        self, bindings: Iterable[Binding], keymap: Mapping[str, str], where: str = ""
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.bindings = list(bindings)
        self.keymap = dict(keymap)
        self.where = where
        """Where the settings and the chats are kept, in words."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Label("Keys", classes="dialog-question")
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            yield Label(
                Text(
                    'Remap any key in settings.json: "keys": {"<id>": "<key>"}. '
                    "Escape closes this help."
                ),
                classes="dialog-hint",
            )
            if self.where:
                yield Label(Text(self.where), id="help-paths", classes="dialog-hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action", "Id")
        for binding in self.bindings:
            table.add_row(
                self._keys(binding), binding.tooltip or binding.description, binding.id or ""
            )
        table.focus()

    def _keys(self, binding: Binding) -> str:
        keys = [key.strip() for key in effective_key(binding, self.keymap).split(",")]
        return " / ".join(self.app.get_key_display(replace(binding, key=key)) for key in keys)
