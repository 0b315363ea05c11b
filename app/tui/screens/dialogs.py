"""Small modal dialogs (confirm, rename a chat, choose an export format) and the flows of the
saved-chat actions that use them. The work itself is a controller job: its result comes back
as events (SessionsChanged, Exported, or JobFailed)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from llama_chat.store.sessions import NotFoundError
from llama_chat.tui.state import chat_app


class ConfirmDialog(ModalScreen[bool]):
    """Yes or no. Escape means no. A risky question (delete) starts on the cancel button; an
    offer (attach) starts on its own button, so Enter takes it."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="dialog.cancel")]

    def __init__(
        self,
        question: str,
        confirm_label: str = "Yes",
        *,
        cancel_label: str = "Cancel",
        offer: bool = False,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label
        self.offer = offer

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question), classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                variant = "primary" if self.offer else "error"
                yield Button(self.confirm_label, id="confirm", variant=variant)
                yield Button(self.cancel_label, id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm" if self.offer else "#cancel", Button).focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")


class RenameDialog(ModalScreen[str | None]):
    """A new title for a chat; None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str) -> None:
        super().__init__(classes="dialog-screen")
        self.current_title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Rename chat", classes="dialog-question")
            yield Input(self.current_title, id="title")
            yield Label("", id="title-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Rename", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        title = " ".join(self.query_one("#title", Input).value.split())
        if not title:
            self.query_one("#title-error", Label).update("A title cannot be empty.")
            return
        self.dismiss(title)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ExportDialog(ModalScreen[str | None]):
    """Markdown or JSON; None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, folder: str) -> None:
        super().__init__(classes="dialog-screen")
        self.chat_title = title
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                Text(f"Export “{self.chat_title}” to {self.folder}"), classes="dialog-question"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Markdown", id="markdown", variant="primary")
                yield Button("JSON", id="json")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)


def session_title(app: App, session_id: int) -> str | None:
    """The saved chat's title; None (after saying so) when it is gone."""
    try:
        return chat_app(app).controller.queries.get_session(session_id).title
    except NotFoundError:
        app.notify("That chat no longer exists.", severity="warning")
        return None


def rename_session(app: App, session_id: int) -> None:
    title = session_title(app, session_id)
    if title is None:
        return

    def renamed(new_title: str | None) -> None:
        if new_title:
            chat_app(app).controller.rename_session(session_id, new_title)

    app.push_screen(RenameDialog(title), renamed)


def delete_session(app: App, session_id: int) -> None:
    title = session_title(app, session_id)
    if title is None:
        return

    def confirmed(yes: bool | None) -> None:
        if yes:
            chat_app(app).controller.delete_session(session_id)

    question = f"Delete the chat “{title}” and all its messages? This cannot be undone."
    app.push_screen(ConfirmDialog(question, "Delete"), confirmed)


def export_session(app: App, session_id: int, fmt: str | None = None) -> None:
    """Export in ``fmt`` ("markdown" or "json"), or ask which first."""
    state = chat_app(app)
    if fmt:
        state.controller.export_session(session_id, fmt, state.export_folder())
        return
    title = session_title(app, session_id)
    if title is None:
        return

    def chosen(fmt: str | None) -> None:
        if fmt:
            state.controller.export_session(session_id, fmt, state.export_folder())

    app.push_screen(ExportDialog(title, str(state.export_folder())), chosen)
