"""Saved chats in one SQLite database (``sessions.db`` in the data dir).

The database is opened, checked and migrated in one place, `llama_chat.store.db`. Every public
write here is one transaction, committed before the method returns.

Messages form a tree through ``parent_id``: editing a question or regenerating an answer adds a
sibling under the same parent, and the conversation shown is the *active path*, which follows
the chosen child at each fork, else the most recent (store/branches.py). Old branches stay in the
database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llama_chat.status import MessageStatus
from llama_chat.store.branches import BranchStore, new_child_written, record_choice
from llama_chat.store.db import open_database
from llama_chat.store.documents import DocumentStore, insert_document
from llama_chat.store.drafts import DraftStore

# Re-exported: callers import the store's errors from here.
from llama_chat.store.errors import (  # noqa: F401
    NewerSchemaError,
    SessionStoreError,
    database_failure,
)
from llama_chat.store.fts import fts_query
from llama_chat.store.memory_notes import MemoryNoteStore, insert_memory_note
from llama_chat.store.records import (
    NotFoundError,
    SessionInfo,
    StoredMessage,
    check_role,
    check_status,
    dump_tool_calls,
    message_from_row,
    session_from_row,
    session_of_message,
)
from llama_chat.store.writers import StreamingWriters


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SessionStore(DraftStore, DocumentStore, BranchStore, MemoryNoteStore):
    """All reads and writes of saved chats. Safe to share between the UI and a worker thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path, recovered_from: Path | None) -> None:
        # Use SessionStore.open(); this only wires up an already opened and migrated connection.
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self.recovered_from = recovered_from
        """Where an unreadable database was moved before a fresh one was started, else None."""
        self._writers = StreamingWriters(path)

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> SessionStore:
        """Open (creating if needed), check and migrate the database, and mark cut-off answers.

        A file that is not a database, or is damaged, is moved aside to
        ``sessions.db.corrupt-<timestamp>`` (with its -wal/-shm) and a fresh one is started; see
        ``recovered_from``. Raises SessionStoreError (NewerSchemaError for a database from a
        newer llama-chat, left untouched).
        """
        conn, recovered_from = open_database(Path(path))
        store = cls(conn, Path(path), recovered_from)
        try:
            store.mark_interrupted()
        except sqlite3.Error as exc:  # e.g. held locked by another program past the timeout
            store.close()
            raise database_failure(path, exc, "opening the saved chats") from exc
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._writers.release_all()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT (e.g. busy), so the next BEGIN starts clean.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def mark_interrupted(self) -> int:
        """Mark answers left 'streaming' by a writer that is gone (a crash) as 'interrupted';
        returns how many. An answer another running process is writing is left alone."""
        streaming = self._query(
            "SELECT id FROM messages WHERE status = ?", (MessageStatus.STREAMING,)
        )
        gone = [row[0] for row in streaming if not self._writers.is_live(row[0])]
        if not gone:
            return 0  # no write at all: opening a database another program holds stays a read
        placeholders = ", ".join("?" * len(gone))
        with self._transaction() as conn:
            return conn.execute(
                f"UPDATE messages SET status = ? WHERE status = ? AND id IN ({placeholders})",
                (MessageStatus.INTERRUPTED, MessageStatus.STREAMING, *gone),
            ).rowcount

    # -- sessions -----------------------------------------------------------------------------

    def create_session(
        self,
        *,
        title: str = "New chat",
        system_prompt: str,
        settings: Mapping[str, Any],
        model: str,
        quant: str,
        template_date: str | None = None,
    ) -> SessionInfo:
        now = _now()
        row = (title, now, now, system_prompt, json.dumps(dict(settings)), model, quant)
        with self._transaction() as conn:
            session_id = _insert_session(conn, (*row, template_date))
        return self.get_session(session_id)

    def get_session(self, session_id: int) -> SessionInfo:
        rows = self._query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise NotFoundError(f"No saved chat with id {session_id}.")
        return session_from_row(rows[0])

    def list_sessions(self, limit: int = 50, offset: int = 0) -> list[SessionInfo]:
        """Most recently updated first."""
        rows = self._query(
            "SELECT * FROM sessions ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [session_from_row(row) for row in rows]

    def count_sessions(self) -> int:
        return self._query("SELECT COUNT(*) FROM sessions")[0][0]

    def rename_session(self, session_id: int, title: str) -> SessionInfo:
        with self._transaction() as conn:
            self._require_session(conn, session_id)
            conn.execute(
                "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
                (title, _now(), session_id),
            )
        return self.get_session(session_id)

    def set_session_settings(
        self, session_id: int, settings: Mapping[str, Any], *, system_prompt: str | None = None
    ) -> SessionInfo:
        """Replace the chat's saved sampling settings (and its system prompt, if given)."""
        with self._transaction() as conn:
            self._require_session(conn, session_id)
            conn.execute(
                "UPDATE sessions SET settings_json = ?,"
                " system_prompt = COALESCE(?, system_prompt), updated_at = ? WHERE id = ?",
                (json.dumps(dict(settings)), system_prompt, _now(), session_id),
            )
        return self.get_session(session_id)

    def delete_session(self, session_id: int) -> list[int]:
        """Delete a chat and all its messages; returns the ids of the chats actually deleted
        (``[session_id]``, or ``[]`` if there was none) so the caller can drop their cache files."""
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            return [session_id] if cursor.rowcount else []

    @staticmethod
    def _require_session(conn: sqlite3.Connection, session_id: int) -> None:
        if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
            raise NotFoundError(f"No saved chat with id {session_id}.")

    # -- messages -----------------------------------------------------------------------------

    def add_message(
        self,
        session_id: int,
        role: str,
        content: str,
        *,
        parent_id: int | None = None,
        status: MessageStatus | str = MessageStatus.COMPLETE,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """Append a message under ``parent_id`` (None: a root, i.e. the first message).

        Committed before returning. A second child of the same parent is a new branch (an edit
        or a regeneration) and becomes the shown one.
        """
        check_role(role)
        status = check_status(status)
        now = _now()
        with self._transaction() as conn:
            self._require_session(conn, session_id)
            if parent_id is not None and session_of_message(conn, parent_id) != session_id:
                raise NotFoundError(f"No message {parent_id} in chat {session_id}.")
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?",
                (session_id,),
            ).fetchone()[0]
            message_id = _insert_message(
                conn, (session_id, parent_id, role, content, tool_calls, status, now, seq)
            )
            if status == MessageStatus.STREAMING:
                self._writers.hold(message_id)  # before the commit makes the row visible
            new_child_written(conn, session_id, parent_id)
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        return self.get_message(message_id)

    def update_message(
        self,
        message_id: int,
        content: str,
        status: MessageStatus | str,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """Replace a message's text and status in one transaction (streaming progress and the
        final state). ``tool_calls`` replaces the stored calls when given; None keeps them."""
        status = check_status(status)
        now = _now()
        with self._transaction() as conn:
            session_id = session_of_message(conn, message_id)
            conn.execute(
                "UPDATE messages SET content = ?, status = ?,"
                " tool_calls_json = COALESCE(?, tool_calls_json) WHERE id = ?",
                (content, status, dump_tool_calls(tool_calls), message_id),
            )
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        if status != MessageStatus.STREAMING:
            self._writers.release(message_id)
        return self.get_message(message_id)

    def get_message(self, message_id: int) -> StoredMessage:
        rows = self._query("SELECT * FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise NotFoundError(f"No message with id {message_id}.")
        return message_from_row(rows[0])

    def messages(self, session_id: int) -> list[StoredMessage]:
        """Every message of a chat, all branches, in the order they were written."""
        rows = self._query(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
        )
        return [message_from_row(row) for row in rows]

    def siblings(self, message_id: int) -> list[StoredMessage]:
        """The message and its alternatives (same parent), oldest first."""
        message = self.get_message(message_id)
        rows = self._query(
            "SELECT * FROM messages WHERE session_id = ? AND parent_id IS ? ORDER BY seq",
            (message.session_id, message.parent_id),
        )
        return [message_from_row(row) for row in rows]

    # -- search -------------------------------------------------------------------------------

    def search(
        self, query: str, *, limit: int = 50, highlight: tuple[str, str] = ("**", "**")
    ) -> list[tuple[SessionInfo, str]]:
        """Chats whose title or messages match every word of ``query`` (prefix matching).

        Returns ``(session, snippet)`` pairs, best match first, one per chat; matched words in
        the snippet are wrapped in ``highlight``. Any user text is safe: it is never parsed as
        FTS5 syntax.
        """
        match = fts_query(query)
        if match is None:
            return []
        start, end = highlight
        rows = self._query(
            """
            SELECT hits.session_id, hits.snippet FROM (
                SELECT rowid AS session_id, highlight(sessions_fts, 0, ?, ?) AS snippet,
                       bm25(sessions_fts) AS rank
                FROM sessions_fts WHERE sessions_fts MATCH ?
                UNION ALL
                SELECT m.session_id, snippet(messages_fts, 0, ?, ?, '…', 12),
                       bm25(messages_fts)
                FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid
                WHERE messages_fts MATCH ?
            ) AS hits
            ORDER BY hits.rank
            """,
            (start, end, match, start, end, match),
        )
        best: dict[int, str] = {}
        for row in rows:
            best.setdefault(row["session_id"], row["snippet"])
            if len(best) >= limit:
                break
        if not best:
            return []
        placeholders = ", ".join("?" * len(best))
        session_rows = self._query(
            f"SELECT * FROM sessions WHERE id IN ({placeholders})", list(best)
        )
        sessions = {row["id"]: session_from_row(row) for row in session_rows}
        return [(sessions[sid], snippet) for sid, snippet in best.items() if sid in sessions]

    # -- export / import (see llama_chat.store.export) ----------------------------------------

    def add_session_tree(
        self,
        session: Mapping[str, Any],
        messages: Sequence[Mapping[str, Any]],
        documents: Sequence[Mapping[str, Any]] = (),
        notes: Sequence[Mapping[str, Any]] = (),
    ) -> SessionInfo:
        """Add a whole chat with new ids, in one transaction: the writing half of an import.

        ``session`` holds the sessions columns (``settings`` as a dict); each message holds a
        local ``id``, its ``parent`` (an earlier local id or None) and the messages columns;
        each document and memory note its columns and ``message``, the message's position
        from 1. Any failure (a full disk, a bad row) writes nothing.
        """
        columns = ("title", "created_at", "updated_at", "system_prompt")
        row = (*(session[c] for c in columns), json.dumps(session["settings"]))
        row += (session["model"], session["quant"], session["template_date"])
        with self._transaction() as conn:
            session_id = _insert_session(conn, row)
            db_id: dict[int, int] = {}
            for seq, m in enumerate(messages, start=1):
                parent = None if m["parent"] is None else db_id[m["parent"]]
                status = check_status(m["status"])
                db_id[m["id"]] = _insert_message(
                    conn,
                    (session_id, parent, m["role"], m["content"], m["tool_calls"], status,
                     m["created_at"], seq),
                )  # fmt: skip
                if m.get("selected"):
                    record_choice(conn, session_id, db_id[m["id"]])
            by_position = [db_id[m["id"]] for m in messages]
            for d in documents:
                insert_document(
                    conn,
                    (by_position[d["message"] - 1], d["name"], d["size_bytes"], d["tokens"],
                     d["text"], d["summary"], d["created_at"]),
                )  # fmt: skip
            for n in notes:
                row = (by_position[n["message"] - 1], session_id, n["note"], n["updated_at"])
                insert_memory_note(conn, row)
        return self.get_session(session_id)


def _insert_session(conn: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """(title, created_at, updated_at, system_prompt, settings_json, model, quant,
    template_date) -> the new session's id."""
    cursor = conn.execute(
        "INSERT INTO sessions (title, created_at, updated_at, system_prompt, settings_json,"
        " model, quant, template_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    return cursor.lastrowid


def _insert_message(conn: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """(session_id, parent_id, role, content, tool_calls, status, created_at, seq) -> the new
    message's id."""
    *head, tool_calls, status, created_at, seq = row
    cursor = conn.execute(
        "INSERT INTO messages (session_id, parent_id, role, content, tool_calls_json,"
        " status, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (*head, dump_tool_calls(tool_calls), status, created_at, seq),
    )
    return cursor.lastrowid
