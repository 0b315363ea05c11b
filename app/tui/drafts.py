"""Nothing typed is lost: the unsent text of each chat is kept in the store as its draft.

Saved (as a controller job, so it is ordered before the app's close) when typing pauses, when
another chat is opened and when the app quits; put back in the box when the chat opens again.
The new chat that has no row yet keeps its draft under ``None``.
"""

from __future__ import annotations

from llama_chat.controller import ChatController
from llama_chat.tui.widgets.prompt_input import PromptInput


class Drafts:
    def __init__(self, controller: ChatController, prompt: PromptInput) -> None:
        self.controller = controller
        self.prompt = prompt
        self._saved: tuple[int | None, str] = (None, "")
        """The (chat, text) the store holds, so unchanged text is not saved again."""

    def chat_to_reopen(self) -> int | None:
        """Where the app starts: None (the new chat, its draft back in the box) if it has a
        draft or there are no chats, else the most recent chat's id."""
        sessions = self.controller.sessions
        draft = sessions.draft(None)
        recent = sessions.list_sessions(limit=1)
        if draft or not recent:
            self.show(None)
            return None
        return recent[0].id

    def save(self, session_id: int | None) -> None:
        draft = (session_id, self.prompt.draft)
        if draft != self._saved:
            self._saved = draft
            self.controller.save_draft(*draft)

    def show(self, session_id: int | None) -> None:
        """Put the chat's saved draft in the box (an edit in progress is left)."""
        text = self.controller.sessions.draft(session_id)
        self._saved = (session_id, text)
        self.prompt.stashed = None
        self.prompt.set_text(text)
