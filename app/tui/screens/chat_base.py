"""What every part of the chat screen shares: its widgets, the app state, and the guards an
action checks before it starts (busy, no model, chat not saved yet).

The chat screen is assembled from parts, one module per feature (chat_sessions.py, …), each a
subclass of ChatScreenBase so that its ``@on`` handlers and actions register with Textual.
"""

from __future__ import annotations

from textual import on
from textual.screen import Screen

from llama_chat.tui.drafts import Drafts
from llama_chat.tui.state import ChatApp, chat_app
from llama_chat.tui.widgets.message_list import MessageList
from llama_chat.tui.widgets.prompt_input import PromptInput
from llama_chat.tui.widgets.session_sidebar import SessionSidebar
from llama_chat.tui.widgets.status_bar import StatusBar


class ChatScreenBase(Screen[None]):
    def __init__(self) -> None:
        super().__init__(id="chat-screen")
        self._turn_ended = False
        """The running answer job already showed how it ended (TurnFinished or JobFailed)."""
        self.drafts: Drafts | None = None
        self._sidebar_chosen = False
        """The user showed or hid the saved chats: resizing no longer decides for them."""

    @property
    def state(self) -> ChatApp:
        return chat_app(self)

    @property
    def messages(self) -> MessageList:
        return self.query_one(MessageList)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def sidebar(self) -> SessionSidebar:
        return self.query_one(SessionSidebar)

    @on(PromptInput.DraftChanged)
    def save_draft(self) -> None:
        if self.drafts is not None:  # keep the unsent text with the open chat (drafts.py)
            self.drafts.save(self.state.session_id)

    def refuse_while_busy(self) -> bool:
        if self.state.busy:
            self.notify(
                "An answer is being written. Press Esc to stop it first.", severity="warning"
            )
        return self.state.busy

    def require_session(self) -> bool:
        if self.state.session_id is None:
            self.notify("This chat is not saved yet: send a message first.", severity="warning")
            return False
        return True

    def can_start(self) -> bool:
        if self.refuse_while_busy():
            return False
        model_state = self.state.model_state
        if model_state != "ready":
            why = "is still loading" if model_state == "loading" else "did not load"
            self.notify(f"The model {why}; your message is kept in the box.", severity="warning")
            return False
        return True

    def start_turn(self) -> None:
        # The app is busy from the job's JobStarted, which the controller emits as it is asked.
        self._turn_ended = False
        self.messages.begin_turn()
        self.status.set_activity("thinking…")
