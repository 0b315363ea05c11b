"""Rolling-memory notes of long chats (table ``memory_notes``, migration m007).

A note summarises the turns before the message it is keyed by: the first message of the model's
window once those turns were dropped. Every branch through that message shares the note.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime


class MemoryNoteStore:
    """The memory-notes half of SessionStore, whose ``_query`` and ``_transaction`` it uses."""

    def memory_notes(self, session_id: int) -> dict[int, str]:
        """The chat's notes by the id of the message each one precedes."""
        rows = self._query(
            "SELECT message_id, note FROM memory_notes WHERE session_id = ?", (session_id,)
        )
        return {row[0]: row[1] for row in rows}

    def dated_memory_notes(self, session_id: int) -> list[tuple[int, str, str]]:
        """(message id, note, updated_at) of each of the chat's notes, in message order: what
        an export carries, so that an import keeps the notes as they were."""
        rows = self._query(
            "SELECT message_id, note, updated_at FROM memory_notes WHERE session_id = ?"
            " ORDER BY message_id",
            (session_id,),
        )
        return [tuple(row) for row in rows]

    def save_memory_note(self, session_id: int, message_id: int, note: str) -> None:
        """Keep ``note`` as the summary of the chat before ``message_id`` (replacing one)."""
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._transaction() as conn:
            insert_memory_note(conn, (message_id, session_id, note, now))


def insert_memory_note(conn: sqlite3.Connection, row: tuple[int, int, str, str]) -> None:
    """(message_id, session_id, note, updated_at), replacing the message's note, inside the
    caller's transaction."""
    conn.execute(
        "INSERT OR REPLACE INTO memory_notes (message_id, session_id, note, updated_at)"
        " VALUES (?, ?, ?, ?)",
        row,
    )
