"""Nothing typed is lost: the unsent text of each chat is kept in the store as its draft.

Saved (as a controller job, so it is ordered before the app's close) when typing pauses, when
another chat is opened and when the app quits; put back in the box when the chat opens again.
The new chat that has no row yet keeps its draft under ``None``. Which chat is shown is kept
in a small file each time it changes, so the app starts where it was left (not in the chat
updated last: a rename updates a chat too).
"""

from __future__ import annotations

import json
from pathlib import Path

from llama_chat.controller import ChatController
from llama_chat.paths import atomic_write_text
from llama_chat.store.sessions import NotFoundError
from llama_chat.tui.widgets.prompt_input import PromptInput


class Drafts:
    def __init__(
        self, controller: ChatController, prompt: PromptInput, open_chat_file: Path
    ) -> None:
        self.controller = controller
        self.prompt = prompt
        self.open_chat_file = open_chat_file
        self._saved: tuple[int | None, str] = (None, "")
        """The (chat, text) the store holds, so unchanged text is not saved again."""
        self._reopening: int | None = None
        """The chat reopening on start: what is typed before it opens belongs to it."""

    def chat_to_reopen(self) -> int | None:
        """Where the app starts: the chat shown when it last ran (None: the new chat, its draft
        back in the box). Without that record (or its chat deleted): the new chat if it has a
        draft or there are no chats, else the most recently updated chat."""
        queries = self.controller.queries
        recorded, chat = self._recorded_open_chat()
        if recorded and chat is not None:
            try:
                queries.get_session(chat)
            except NotFoundError:
                recorded = False
        if not recorded:
            recent = queries.list_sessions(limit=1)
            chat = None if queries.draft(None) or not recent else recent[0].id
        if chat is None:
            self.show(None)
            return None
        self._reopening = chat
        return chat

    def remember_open_chat(self, session_id: int | None) -> None:
        """Record the chat now shown (called each time that changes)."""
        try:
            atomic_write_text(self.open_chat_file, json.dumps({"open_chat": session_id}))
        except OSError:
            pass  # costs only which chat opens next time; the chat and its draft are saved

    def _recorded_open_chat(self) -> tuple[bool, int | None]:
        """(whether a readable record exists, the chat it names)."""
        try:
            chat = json.loads(self.open_chat_file.read_text(encoding="utf-8"))["open_chat"]
        except (OSError, ValueError, KeyError, TypeError):
            return False, None
        if chat is None or (isinstance(chat, int) and not isinstance(chat, bool)):
            return True, chat
        return False, None

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
        saved = self.controller.queries.draft(session_id)
        typed = self.prompt.text if session_id is not None and session_id == self._reopening else ""
        self._reopening = None
        if typed and self._saved == (None, typed):
            self.controller.save_draft(None, "")  # filed under the new chat while it opened
        self._saved = (session_id, saved)
        self.prompt.stashed = None
        self.prompt.set_text(f"{saved}\n\n{typed}" if saved and typed else saved or typed)
