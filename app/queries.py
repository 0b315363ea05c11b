"""What a front end may read of the saved chats: a read-only face on the store.

The store also writes, and every write goes through a controller job (in order, on the engine
thread). Screens hold this face instead, so a read is all they can do, and each question they
ask has a name here. The store is safe to read from any thread: a read that may take a while (a
whole chat, a search) can run in a worker.
"""

from __future__ import annotations

from llama_chat.store.documents import StoredDocument
from llama_chat.store.sessions import SessionInfo, SessionStore, StoredMessage


class ChatQueries:
    def __init__(self, store: SessionStore) -> None:
        self._store = store

    def get_session(self, session_id: int) -> SessionInfo:
        """Raises NotFoundError for a chat that is not (or no longer) saved."""
        return self._store.get_session(session_id)

    def list_sessions(self, limit: int = 50, offset: int = 0) -> list[SessionInfo]:
        """Most recently updated first."""
        return self._store.list_sessions(limit=limit, offset=offset)

    def count_sessions(self) -> int:
        return self._store.count_sessions()

    def search(
        self, query: str, *, highlight: tuple[str, str] = ("**", "**")
    ) -> list[tuple[SessionInfo, str]]:
        """Chats matching ``query``, best first, with a snippet (see SessionStore.search)."""
        return self._store.search(query, highlight=highlight)

    def active_path(self, session_id: int | None) -> list[StoredMessage]:
        """The chat's shown branch, root first; [] for the new chat (None), not saved yet."""
        return self._store.active_path(session_id) if session_id is not None else []

    def branch_positions(self, session_id: int | None) -> dict[int, tuple[int, int]]:
        """Message id → (its place among its siblings, how many) for those that have siblings."""
        return self._store.branch_positions(session_id) if session_id is not None else {}

    def documents(self, session_id: int) -> list[StoredDocument]:
        """Every document of a chat (all branches), oldest first."""
        return self._store.documents(session_id)

    def document_of_message(self, message_id: int) -> StoredDocument | None:
        return self._store.document_of_message(message_id)

    def draft(self, session_id: int | None) -> str:
        """The unsent text of a chat (None: the new chat); "" if none."""
        return self._store.draft(session_id)
