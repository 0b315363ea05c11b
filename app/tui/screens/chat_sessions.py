"""Saved chats from the chat screen: opening and starting chats, showing the chats' list, the
session actions (rename, delete, export) the sidebar and the palette ask for, and saving one
message to a file. The chat screen holds one ``SessionFlow``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.message import Message
from textual.screen import Screen

from llama_chat.tui.screens import dialogs
from llama_chat.tui.screens.chat_turns import ChatPart, refuse_while_busy, require_session
from llama_chat.tui.screens.save_message import SaveMessageDialog, suggested_path
from llama_chat.tui.widgets.message_list import MessageList
from llama_chat.tui.widgets.session_sidebar import SessionSidebar


class SessionFlow(ChatPart):
    def __init__(self, screen: Screen, save_draft: Callable[[], None]) -> None:
        super().__init__(screen)
        self.save_draft = save_draft
        """Keeps the box's text with the open chat: called before another chat opens."""

    def new_session(self) -> None:
        if not refuse_while_busy(self.screen):
            self.save_draft()
            self.state.controller.new_session()

    def open_session(self, session_id: int) -> None:
        if not refuse_while_busy(self.screen):
            self.save_draft()
            self.state.controller.open_session(session_id)

    def toggle_sidebar(self) -> None:
        # One press goes to the search, showing the chats if needed; from the chats, one press
        # hides them and returns to the message box.
        if self.sidebar.display and self.sidebar.has_focus_within:
            self.sidebar.hide()
            self.prompt.focus()
        else:
            self.sidebar.show_search()

    def ask_for_open_chat(
        self, request: type[SessionSidebar.Rename | SessionSidebar.Delete]
    ) -> None:
        """The palette's rename and delete: of the open chat, once it is saved."""
        if require_session(self.screen):
            self.screen.post_message(request(self.state.session_id))

    def export_open_chat(self, fmt: str | None) -> None:
        if require_session(self.screen):
            dialogs.export_session(self.screen.app, self.state.session_id, fmt)

    def handle(self, request: Message) -> None:
        """What the sidebar and the message list ask for."""
        app = self.screen.app
        match request:
            case SessionSidebar.Open(session_id=session_id):
                self.prompt.focus()  # picked from the list: the next thing is typing
                self.open_session(session_id)
            case SessionSidebar.NewChat():
                self.prompt.focus()
                self.new_session()
            case SessionSidebar.Rename(session_id=session_id):
                dialogs.rename_session(app, session_id)
            case SessionSidebar.Delete(session_id=session_id):
                if session_id == self.state.session_id and refuse_while_busy(self.screen):
                    return
                dialogs.delete_session(app, session_id)
            case SessionSidebar.Export(session_id=session_id):
                dialogs.export_session(app, session_id)
            case MessageList.SaveRequested():
                self._save_message(request)

    def _save_message(self, request: MessageList.SaveRequested) -> None:
        title = None
        if self.state.session_id is not None:
            title = self.state.controller.queries.get_session(self.state.session_id).title
        suggested = suggested_path(self.state.export_folder(), title, request.kind)

        def saved(path: Path | None) -> None:
            if path is not None:
                self.screen.notify(f"Saved the {request.kind} to {path}.")

        self.screen.app.push_screen(SaveMessageDialog(request.text, suggested), saved)
