"""Schema of ``sessions.db``: an ordered list of small migrations, applied once each.

Each ``mNNN_what(conn)`` function runs in its own transaction together with the row that records
it in ``_migrations`` and the new ``PRAGMA user_version``, so a crash part-way leaves the database
at the previous version and the migration simply runs again on the next start. Shipped migrations
are never edited; a change to the schema is a new function appended to ``MIGRATIONS``.

Only ``SessionStore.open`` calls :func:`migrate`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from llama_chat.store.errors import NewerSchemaError

Migration = Callable[[sqlite3.Connection], None]

MESSAGE_STATUSES: tuple[str, ...] = ("complete", "streaming", "stopped", "error", "interrupted")


def _execute_all(conn: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    # One statement at a time: executescript() would COMMIT first and break the transaction.
    for statement in statements:
        conn.execute(statement)


def m001_sessions_and_messages(conn: sqlite3.Connection) -> None:
    statuses = ", ".join(f"'{s}'" for s in MESSAGE_STATUSES)
    _execute_all(
        conn,
        (
            # AUTOINCREMENT: ids are never reused, because KV-cache files are named after them
            # and a new chat must not pick up a deleted chat's cache.
            # Timestamps are ISO-8601 UTC text: readable in the sqlite3 shell and sortable.
            """
            CREATE TABLE sessions (
                id            INTEGER PRIMARY KEY AUTOINCREMENT,
                title         TEXT NOT NULL,
                created_at    TEXT NOT NULL,
                updated_at    TEXT NOT NULL,
                system_prompt TEXT NOT NULL DEFAULT '',
                settings_json TEXT NOT NULL DEFAULT '{}',
                model         TEXT NOT NULL,
                quant         TEXT NOT NULL,
                template_date TEXT
            )
            """,
            # The sidebar lists sessions most recently used first.
            "CREATE INDEX sessions_by_updated ON sessions (updated_at DESC, id DESC)",
            # parent_id makes messages a tree: an edit or a regeneration is a sibling, so the old
            # branch is kept. seq orders messages within a session (and picks the latest sibling).
            f"""
            CREATE TABLE messages (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                session_id      INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                parent_id       INTEGER REFERENCES messages (id) ON DELETE CASCADE,
                role            TEXT NOT NULL,
                content         TEXT NOT NULL,
                tool_calls_json TEXT,
                status          TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ({statuses})),
                created_at      TEXT NOT NULL,
                seq             INTEGER NOT NULL,
                UNIQUE (session_id, seq)
            )
            """,
            # Needed for the ON DELETE CASCADE of parent_id and for finding children.
            "CREATE INDEX messages_by_parent ON messages (parent_id)",
            # Start-up marks answers cut off by a crash; this keeps that O(streaming rows).
            "CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming'",
        ),
    )


def m002_full_text_search(conn: sqlite3.Connection) -> None:
    # External-content FTS5 tables: the text lives once, in sessions/messages, and triggers keep
    # the index in step. 'remove_diacritics 2' lets "cafe" find "café".
    tokenizer = "unicode61 remove_diacritics 2"
    _execute_all(
        conn,
        (
            f"""
            CREATE VIRTUAL TABLE sessions_fts USING fts5 (
                title, content = 'sessions', content_rowid = 'id', tokenize = '{tokenizer}'
            )
            """,
            f"""
            CREATE VIRTUAL TABLE messages_fts USING fts5 (
                content, content = 'messages', content_rowid = 'id', tokenize = '{tokenizer}'
            )
            """,
            """
            CREATE TRIGGER sessions_fts_insert AFTER INSERT ON sessions BEGIN
                INSERT INTO sessions_fts (rowid, title) VALUES (new.id, new.title);
            END
            """,
            """
            CREATE TRIGGER sessions_fts_delete AFTER DELETE ON sessions BEGIN
                INSERT INTO sessions_fts (sessions_fts, rowid, title)
                VALUES ('delete', old.id, old.title);
            END
            """,
            """
            CREATE TRIGGER sessions_fts_update AFTER UPDATE OF title ON sessions BEGIN
                INSERT INTO sessions_fts (sessions_fts, rowid, title)
                VALUES ('delete', old.id, old.title);
                INSERT INTO sessions_fts (rowid, title) VALUES (new.id, new.title);
            END
            """,
            """
            CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
            END
            """,
            """
            CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            END
            """,
            """
            CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
                INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
                INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
            END
            """,
            # Index what an older version already stored.
            "INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild')",
            "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
        ),
    )


MIGRATIONS: list[Migration] = [
    m001_sessions_and_messages,
    m002_full_text_search,
]

SCHEMA_VERSION = len(MIGRATIONS)
"""``PRAGMA user_version`` of a fully migrated database."""


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_not_newer(conn: sqlite3.Connection, path: Path | str) -> None:
    """Raise NewerSchemaError, before anything is written, for a database from a newer app."""
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise NewerSchemaError(path, found, SCHEMA_VERSION)


def migrate(conn: sqlite3.Connection, path: Path | str = "sessions.db") -> list[str]:
    """Apply the migrations not yet recorded; returns their names in the order applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so the explicit transactions
    here are the only ones.
    """
    check_not_newer(conn, path)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    applied: list[str] = []
    for version, migration in enumerate(MIGRATIONS, start=1):
        name = migration.__name__
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration(conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            # PRAGMA takes no parameters; version is our own int.
            conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
