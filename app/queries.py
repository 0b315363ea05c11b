"""What a front end may read of the saved chats: a read-only face on the store.

The store also writes, and every write goes through a controller job (in order, on the engine
thread). Screens hold this face instead, so a read is all they can do, and each question they
ask has a name here. The store is safe to read from any thread: a read that may take a while (a
whole chat, a search) can run in a worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from llama_chat.store.documents import StoredDocument
from llama_chat.store.sessions import SessionInfo, SessionStore, StoredMessage


class ShownChat(NamedTuple):
    """A chat as the screen shows it: its shown branch, root first, and the documents its user
    messages carry (by message id), read together so that showing any page of it reads
    nothing more."""

    messages: list[StoredMessage]
    documents: dict[int, StoredDocument]


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

    def documents_of_messages(self, message_ids: Iterable[int]) -> dict[int, StoredDocument]:
        """Message id → its document, for those of ``message_ids`` that carry one (one query)."""
        return self._store.documents_of_messages(message_ids)

    def shown_chat(self, session_id: int | None) -> ShownChat:
        """The chat's shown branch with its documents (empty for the new chat, None)."""
        messages = self.active_path(session_id)
        return ShownChat(
            messages, self.documents_of_messages(m.id for m in messages if m.role == "user")
        )

    def draft(self, session_id: int | None) -> str:
        """The unsent text of a chat (None: the new chat); "" if none."""
        return self._store.draft(session_id)
