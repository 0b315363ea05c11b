"""Ask before a tool runs: the model's requested call, then Allow once / Always / Deny.

The controller asks on its engine thread and must block until the user answers; the
``ApprovalGate`` posts the question to the UI thread and waits on a Future the dialog answers.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from llama_chat.tools import Approval, ToolCall


class ToolApprovalScreen(ModalScreen[Approval]):
    """Dismisses with the user's Approval (ALWAYS: for the rest of this chat)."""

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
        self.action_answer(event.button.id or Approval.DENY)

    def action_answer(self, answer: str) -> None:
        self.dismiss(Approval(answer))


class ApprovalGate:
    """The controller's approver: shows the dialog and blocks the engine thread until answered."""

    @dataclass
    class Requested(Message):
        call: ToolCall
        answer: Future[Approval]
        """Unblocks the engine thread when set."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._pending: set[Future[Approval]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def ask(self, call: ToolCall) -> Approval:
        """Runs on the engine thread: blocks until the user has answered."""
        answer: Future[Approval] = Future()
        with self._lock:
            if self._closed:
                return Approval.DENY
            self._pending.add(answer)
        try:
            if not self.app.post_message(self.Requested(call, answer)):
                return Approval.DENY  # the app is closing: nobody can say yes
            return answer.result()
        finally:
            with self._lock:
                self._pending.discard(answer)

    def deny_all(self) -> None:
        """Answer every open question with "deny", and any later one too (the app is closing)."""
        with self._lock:
            self._closed = True
            for answer in self._pending:
                if not answer.done():
                    answer.set_result(Approval.DENY)


def show_approval(app: App, request: ApprovalGate.Requested) -> None:
    """Push the dialog for ``request``; its answer (Escape: deny) unblocks the engine thread."""

    def answered(result: Approval | None) -> None:
        if not request.answer.done():
            request.answer.set_result(result or Approval.DENY)

    app.push_screen(ToolApprovalScreen(request.call), answered)
