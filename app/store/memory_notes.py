"""Rolling-memory notes of long chats (table ``memory_notes``, migration m007).

A note summarises the turns before the message it is keyed by: the first message of the model's
window once those turns were dropped. Every branch through that message shares the note.
"""

from __future__ import annotations

from datetime import UTC, datetime


class MemoryNoteStore:
    """The memory-notes half of SessionStore, whose ``_query`` and ``_transaction`` it uses."""

    def memory_notes(self, session_id: int) -> dict[int, str]:
        """The chat's notes by the id of the message each one precedes."""
        rows = self._query(
            "SELECT message_id, note FROM memory_notes WHERE session_id = ?", (session_id,)
        )
        return {row[0]: row[1] for row in rows}

    def save_memory_note(self, session_id: int, message_id: int, note: str) -> None:
        """Keep ``note`` as the summary of the chat before ``message_id`` (replacing one)."""
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO memory_notes (message_id, session_id, note, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (message_id, session_id, note, now),
            )
