"""Documents attached to a chat (table ``documents``, migration m006).

A document rides on one user message: the message holds what the model reads (the whole text,
or a summary of a text too long for the context), the document row holds the original text and
what the chat shows of it (name, size, tokens). Deleting the message or the chat deletes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from llama_chat.store.records import StoredMessage, read_text, read_time


@dataclass(frozen=True)
class StoredDocument:
    id: int
    message_id: int
    session_id: int
    name: str
    size_bytes: int
    tokens: int
    text: str
    summary: str | None
    """What the model read instead of the text (None: it read the whole text)."""
    created_at: datetime


_IDS_PER_QUERY = 500
"""Ids bound in one ``IN (...)``: well under SQLite's limit on a statement's variables."""
_SELECT = "SELECT d.*, m.session_id FROM documents AS d JOIN messages AS m ON m.id = d.message_id"


def _document(row: sqlite3.Row) -> StoredDocument:
    damage: list[str] = []  # a damaged row is shown as far as it can be read
    return StoredDocument(
        id=row["id"],
        message_id=row["message_id"],
        session_id=row["session_id"],
        name=read_text(row, "name", damage),
        size_bytes=row["size_bytes"] if isinstance(row["size_bytes"], int) else 0,
        tokens=row["tokens"] if isinstance(row["tokens"], int) else 0,
        text=read_text(row, "text", damage),
        summary=None if row["summary"] is None else read_text(row, "summary", damage),
        created_at=read_time(row, "created_at", damage),
    )


class DocumentStore:
    """The documents half of SessionStore, whose ``_query``, ``_transaction`` and
    ``add_message`` it uses."""

    def add_document(
        self,
        session_id: int,
        content: str,
        *,
        parent_id: int | None,
        name: str,
        text: str,
        size_bytes: int,
        tokens: int,
        summary: str | None = None,
    ) -> tuple[StoredMessage, StoredDocument]:
        """Add the user message ``content`` (what the model reads) carrying a document."""
        message = self.add_message(session_id, "user", content, parent_id=parent_id)
        document = self._insert_document(message.id, name, text, size_bytes, tokens, summary)
        return message, document

    def _insert_document(
        self,
        message_id: int,
        name: str,
        text: str,
        size_bytes: int,
        tokens: int,
        summary: str | None,
        created_at: str | None = None,
    ) -> StoredDocument:
        created_at = created_at or datetime.now(UTC).isoformat(timespec="microseconds")
        with self._transaction() as conn:
            row = (message_id, name, size_bytes, tokens, text, summary, created_at)
            document_id = insert_document(conn, row)
        return self.document(document_id)

    def document(self, document_id: int) -> StoredDocument:
        rows = self._query(f"{_SELECT} WHERE d.id = ?", (document_id,))
        if not rows:
            raise LookupError(f"No document with id {document_id}.")
        return _document(rows[0])

    def documents(self, session_id: int) -> list[StoredDocument]:
        """Every document of a chat (all branches), oldest first."""
        rows = self._query(f"{_SELECT} WHERE m.session_id = ? ORDER BY m.seq", (session_id,))
        return [_document(row) for row in rows]

    def document_of_message(self, message_id: int) -> StoredDocument | None:
        rows = self._query(f"{_SELECT} WHERE d.message_id = ?", (message_id,))
        return _document(rows[0]) if rows else None

    def documents_of_messages(self, message_ids: Iterable[int]) -> dict[int, StoredDocument]:
        """Message id → the document it carries, for those of ``message_ids`` that carry one:
        one query for a page of messages (one per _IDS_PER_QUERY ids), not one per message."""
        ids = list(dict.fromkeys(message_ids))
        found: dict[int, StoredDocument] = {}
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            for row in self._query(f"{_SELECT} WHERE d.message_id IN ({marks})", chunk):
                found[row["message_id"]] = _document(row)
        return found


def insert_document(conn: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """(message_id, name, size_bytes, tokens, text, summary, created_at) -> the new id, inside
    the caller's transaction."""
    cursor = conn.execute(
        "INSERT INTO documents (message_id, name, size_bytes, tokens, text, summary,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    return cursor.lastrowid
