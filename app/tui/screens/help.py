"""Every key, read from the Bindings themselves so the list cannot drift from what the keys do,
with the user's remappings (the ``keys`` setting) applied, and where the app keeps its files.

The table fits the dialog's width (80 columns included): the action column takes what the key
and id columns leave, and its text wraps onto more lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label

from llama_chat.tui.key_tester import KeyTesterScreen
from llama_chat.tui.keys import effective_key

KEY_WIDTH = 10
"""The key column's widest: a binding's second and third keys wrap under its first."""
MIN_ACTION_WIDTH = 12
"""The action column never gets narrower than this (the table scrolls sideways below it)."""


class KeyTable(DataTable):
    """Key | Action | Id: the ids whole, the keys and the action text wrapped (the action takes
    what the others leave), wrapped again when the table's width changes (a scrollbar coming
    or going included)."""

    def __init__(self, rows: list[tuple[str, str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.key_rows = rows
        self._filled_width = 0
        """The width the rows were wrapped for (0: not filled yet)."""

    def on_resize(self) -> None:
        # Room for a vertical scrollbar from the start: it comes once the rows are in.
        width = self.size.width - self.styles.scrollbar_size_vertical
        if width <= 0 or width == self._filled_width:
            return
        self._filled_width = width
        key_width = min(KEY_WIDTH, max(len(key) for key, _, _ in self.key_rows))
        id_width = max(len(binding_id) for _, _, binding_id in self.key_rows)
        padding = 2 * self.cell_padding * 3
        action_width = max(MIN_ACTION_WIDTH, width - key_width - id_width - padding)
        self.clear(columns=True)
        self.add_column("Key", width=key_width)
        self.add_column("Action", width=action_width)
        self.add_column("Id")
        for key, action, binding_id in self.key_rows:
            self.add_row(Text(key), Text(action), binding_id, height=None)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,f1,q", "dismiss", "Close", id="help.close"),
        Binding(
            "k",
            "test_keys",
            "Test keys",
            id="help.test_keys",
            tooltip="Press keys and see what the app receives (a key a Mac keeps shows nothing)",
        ),
    ]

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
            yield Label("Keys (a Mac's key first)", classes="dialog-question")
            rows = [
                (self._keys(binding), binding.tooltip or binding.description, binding.id or "")
                for binding in self.bindings
            ]
            yield KeyTable(rows, id="help-keys")
            yield Label(
                Text(
                    'Remap any key in settings.json: "keys": {"<id>": "<key>"}. '
                    "K tests which keys reach the app. Escape closes this help."
                ),
                classes="dialog-hint",
            )
            if self.where:
                yield Label(Text(self.where), id="help-paths", classes="dialog-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def _keys(self, binding: Binding) -> str:
        keys = [key.strip() for key in effective_key(binding, self.keymap).split(",")]
        return " / ".join(self.app.get_key_display(replace(binding, key=key)) for key in keys)

    def action_test_keys(self) -> None:
        self.app.push_screen(KeyTesterScreen(self.keymap))
