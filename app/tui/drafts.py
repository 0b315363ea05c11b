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
        self._reopening: int | None = None
        """The chat reopening on start: what is typed before it opens belongs to it."""

    def chat_to_reopen(self) -> int | None:
        """Where the app starts: None (the new chat, its draft back in the box) if it has a
        draft or there are no chats, else the most recent chat's id."""
        sessions = self.controller.sessions
        draft = sessions.draft(None)
        recent = sessions.list_sessions(limit=1)
        if draft or not recent:
            self.show(None)
            return None
        self._reopening = recent[0].id
        return self._reopening

    def save(self, session_id: int | None) -> None:
        draft = (session_id, self.prompt.draft)
        if draft != self._saved:
            self._saved = draft
            self.controller.save_draft(*draft)

    def show(self, session_id: int | None) -> None:
        """Put the chat's saved draft in the box (an edit in progress is left). Text typed while
        the last chat was reopening on start is kept, after that chat's own draft."""
        if session_id == self._saved[0] and session_id != self._reopening:
            # Shown again (the model loaded, the settings changed): the box holds this chat's
            # text already, and newer than the store, whose saves may still be on their way.
            return
        saved = self.controller.sessions.draft(session_id)
        typed = self.prompt.text if session_id is not None and session_id == self._reopening else ""
        self._reopening = None
        if typed and self._saved == (None, typed):
            self.controller.save_draft(None, "")  # filed under the new chat while it opened
        self._saved = (session_id, saved)
        self.prompt.stashed = None
        self.prompt.set_text(f"{saved}\n\n{typed}" if saved and typed else saved or typed)
