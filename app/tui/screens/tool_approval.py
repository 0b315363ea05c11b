"""Ask before a tool runs: the model's requested call, then Allow once / Always / Deny."""

from __future__ import annotations

import json

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from llama_chat.tools import ToolCall

ALLOW_ONCE, ALLOW_ALWAYS = "once", "always"


class ToolApprovalScreen(ModalScreen[str | bool]):
    """Dismisses with "once", "always" (for the rest of this chat) or False (deny)."""

    BINDINGS = [
        Binding("o", "answer('once')", "Allow once", id="tool.once", tooltip="Run it this time"),
        Binding(
            "a",
            "answer('always')",
            "Always",
            id="tool.always",
            tooltip="Run this tool without asking for the rest of this chat",
        ),
        Binding("escape,n", "answer('deny')", "Deny", id="tool.deny", tooltip="Do not run it"),
    ]

    def __init__(self, call: ToolCall) -> None:
        super().__init__(classes="dialog-screen")
        self.call = call

    def compose(self) -> ComposeResult:
        arguments = json.dumps(self.call.arguments, indent=2, ensure_ascii=False)
        with Vertical(classes="dialog", id="tool-approval"):
            yield Label(
                Text.assemble("The model wants to run ", (self.call.name, "bold"), ":"),
                classes="dialog-question",
            )
            with VerticalScroll(id="tool-arguments"):
                yield Static(Text(arguments))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Allow once", id="once", variant="primary")
                yield Button("Always for this chat", id="always", variant="warning")
                yield Button("Deny", id="deny", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()  # the safe choice is the default one

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id or "deny")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer if answer in (ALLOW_ONCE, ALLOW_ALWAYS) else False)
