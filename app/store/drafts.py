"""Unsent text of the message box, one draft per chat (table ``drafts``, migration m004)."""

from __future__ import annotations

from datetime import UTC, datetime


class DraftStore:
    """The drafts half of SessionStore, whose ``_query`` and ``_transaction`` it uses."""

    def draft(self, session_id: int | None) -> str:
        """The unsent text of a chat (None: the new chat that is not saved yet); "" if none."""
        rows = self._query("SELECT text FROM drafts WHERE session_id IS ?", (session_id,))
        return rows[0][0] if rows else ""

    def set_draft(self, session_id: int | None, text: str) -> None:
        """Keep ``text`` as the chat's draft, in one transaction; empty text removes it."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM drafts WHERE session_id IS ?", (session_id,))
            if text:
                now = datetime.now(UTC).isoformat(timespec="microseconds")
                conn.execute(
                    "INSERT INTO drafts (session_id, text, updated_at) VALUES (?, ?, ?)",
                    (session_id, text, now),
                )
