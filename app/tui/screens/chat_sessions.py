"""The chat screen's part for saved chats: the sidebar's requests and the session actions."""

from __future__ import annotations

from textual import on

from llama_chat.tui.screens import dialogs
from llama_chat.tui.screens.chat_base import ChatScreenBase
from llama_chat.tui.widgets.session_sidebar import SessionSidebar


class SessionHandlers(ChatScreenBase):
    def action_new_session(self) -> None:
        if not self.refuse_while_busy():
            self.save_draft()
            self.state.controller.new_session()

    def action_open_session(self, session_id: int) -> None:
        if not self.refuse_while_busy():
            self.save_draft()
            self.state.controller.open_session(session_id)

    def action_toggle_sidebar(self) -> None:
        # One press goes to the search, showing the chats if needed; from the chats, one press
        # hides them and returns to the message box.
        sidebar = self.sidebar
        self._sidebar_chosen = True
        focused = self.focused
        if sidebar.display and focused is not None and sidebar in focused.ancestors_with_self:
            sidebar.display = False
            self.prompt.focus()
        else:
            sidebar.display = True
            sidebar.query_one("#session-search").focus()

    def action_search_sessions(self) -> None:
        self._sidebar_chosen = True
        self.sidebar.display = True
        self.sidebar.query_one("#session-search").focus()

    def action_rename_session(self) -> None:
        if self.require_session():
            self.post_message(SessionSidebar.Rename(self.state.session_id))

    def action_delete_session(self) -> None:
        if self.require_session():
            self.post_message(SessionSidebar.Delete(self.state.session_id))

    def action_export_session(self, fmt: str = "") -> None:
        if self.require_session():
            dialogs.export_session(self.app, self.state.session_id, fmt or None)

    # -- sidebar ----------------------------------------------------------------------------------

    @on(SessionSidebar.Open)
    def _open_session(self, event: SessionSidebar.Open) -> None:
        self.prompt.focus()  # picked from the list: the next thing is typing
        self.action_open_session(event.session_id)

    @on(SessionSidebar.NewChat)
    def _new_chat(self) -> None:
        self.prompt.focus()
        self.action_new_session()

    @on(SessionSidebar.Rename)
    def _rename(self, event: SessionSidebar.Rename) -> None:
        dialogs.rename_session(self.app, event.session_id)

    @on(SessionSidebar.Delete)
    def _delete(self, event: SessionSidebar.Delete) -> None:
        if event.session_id == self.state.session_id and self.refuse_while_busy():
            return
        dialogs.delete_session(self.app, event.session_id)

    @on(SessionSidebar.Export)
    def _export(self, event: SessionSidebar.Export) -> None:
        dialogs.export_session(self.app, event.session_id)
