"""Every key, read from the Bindings themselves so the list cannot drift from what the keys do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__(classes="dialog-screen")
        self.bindings = list(bindings)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help"):
            yield Label("Keys", classes="dialog-question")
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            yield Label("Escape closes this help.", classes="dialog-hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action")
        for binding in self.bindings:
            table.add_row(self._keys(binding), binding.tooltip or binding.description)
        table.focus()

    def _keys(self, binding: Binding) -> str:
        keys = [key.strip() for key in binding.key.split(",")]
        return " / ".join(self.app.get_key_display(replace(binding, key=key)) for key in keys)
