"""Schema of ``sessions.db``: an ordered list of small migrations, applied once each.

The pending ``mNNN_what(conn)`` functions run in one ``BEGIN IMMEDIATE`` transaction together
with the rows that record them in ``_migrations`` and the new ``PRAGMA user_version``, so a crash
part-way leaves the database as it was, and the migrations simply run again on the next start.
The version is read again once the write lock is held: two processes opening a new database at
once migrate it once. Shipped migrations are never edited; a change to the schema is a new
function appended to ``MIGRATIONS``.

Only `llama_chat.store.db.open_database` calls :func:`migrate`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from llama_chat.store.errors import NewerSchemaError

Migration = Callable[[sqlite3.Connection], None]

# The statuses each schema's CHECK constraint allows: frozen with the migration that wrote them
# (the app's own list is llama_chat.status.MessageStatus, which m003 matches).
_V1_STATUSES = ("complete", "streaming", "stopped", "error", "interrupted")
_V3_STATUSES = ("complete", "streaming", "stopped", "error", "interrupted", "cut_off")


def _execute_all(conn: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    # One statement at a time: executescript() would COMMIT first and break the transaction.
    for statement in statements:
        conn.execute(statement)


def m001_sessions_and_messages(conn: sqlite3.Connection) -> None:
    statuses = ", ".join(f"'{s}'" for s in _V1_STATUSES)
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


def m003_cut_off_status(conn: sqlite3.Connection) -> None:
    """Allow status 'cut_off' (an answer that reached max_tokens).

    A CHECK constraint cannot be altered in SQLite, so the messages table is rebuilt the
    documented way (https://www.sqlite.org/lang_altertable.html#otheralter, steps 3-10; the
    caller has foreign keys off and the transaction open): ids, rows, indexes, the full-text
    triggers and the AUTOINCREMENT counter are kept, so the FTS index stays valid as it is.
    """
    (table_sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
    ).fetchone()
    old_check = "CHECK (status IN (" + ", ".join(f"'{s}'" for s in _V1_STATUSES) + "))"
    new_check = "CHECK (status IN (" + ", ".join(f"'{s}'" for s in _V3_STATUSES) + "))"
    if old_check not in " ".join(table_sql.split()):
        raise RuntimeError("messages table has an unexpected CHECK constraint; not migrating")
    new_sql = " ".join(table_sql.split()).replace(old_check, new_check)
    new_sql = new_sql.replace("CREATE TABLE messages", "CREATE TABLE messages_new", 1)
    # Step 3: the indexes and triggers that go with the table (dropped along with it).
    attached = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'messages'"
            " AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid"
        )
    ]
    sequence = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    _execute_all(
        conn,
        (
            new_sql,  # 4
            "INSERT INTO messages_new SELECT * FROM messages",  # 5: same columns, same order
            "DROP TABLE messages",  # 6
            "ALTER TABLE messages_new RENAME TO messages",  # 7
            *attached,  # 8
        ),
    )
    if sequence is not None:  # ids of deleted messages stay unused
        conn.execute(
            "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'messages'", sequence
        )
    problems = conn.execute("PRAGMA foreign_key_check").fetchall()  # 10
    if problems:
        raise RuntimeError(f"foreign key check failed after rebuilding messages: {problems[:3]}")


def m004_drafts(conn: sqlite3.Connection) -> None:
    """Unsent text in the message box, one draft per chat, so quitting loses nothing typed."""
    _execute_all(
        conn,
        (
            # session_id NULL is the new chat that has no row yet; the unique index on
            # COALESCE makes that one draft too (a plain UNIQUE lets NULLs repeat). Deleting
            # a chat deletes its draft.
            """
            CREATE TABLE drafts (
                session_id INTEGER REFERENCES sessions (id) ON DELETE CASCADE,
                text       TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX drafts_one_per_chat ON drafts (COALESCE(session_id, 0))",
        ),
    )


def m005_branch_choices(conn: sqlite3.Connection) -> None:
    """The branch the user chose at each fork (store/branches.py); no row: the latest child."""
    _execute_all(
        conn,
        (
            # parent_id NULL is a fork of first messages (an edited first question); the unique
            # index on COALESCE makes that one choice too. Deleting either message or the chat
            # deletes the choice.
            """
            CREATE TABLE branch_choices (
                session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                parent_id  INTEGER REFERENCES messages (id) ON DELETE CASCADE,
                child_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE
            )
            """,
            "CREATE UNIQUE INDEX branch_choices_one_per_fork"
            " ON branch_choices (session_id, COALESCE(parent_id, 0))",
            # Deleting a message looks up the choices that name it.
            "CREATE INDEX branch_choices_by_child ON branch_choices (child_id)",
        ),
    )


def m006_documents(conn: sqlite3.Connection) -> None:
    """Documents attached to a chat, each carried by one user message (store/documents.py)."""
    _execute_all(
        conn,
        (
            # The message holds what the model reads; this row the original text. Deleting the
            # message (or its chat, which deletes its messages) deletes the document.
            """
            CREATE TABLE documents (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                message_id INTEGER NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
                name       TEXT NOT NULL,
                size_bytes INTEGER NOT NULL,
                tokens     INTEGER NOT NULL,
                text       TEXT NOT NULL,
                summary    TEXT,
                created_at TEXT NOT NULL
            )
            """,
        ),
    )


def m007_memory_notes(conn: sqlite3.Connection) -> None:
    """Rolling memory: notes summarising the turns a long chat dropped (store/memory_notes.py)."""
    _execute_all(
        conn,
        (
            # Keyed by the first message the window starts with after the note: the messages
            # before it are the note's, and a branch forking later shares it. Deleting that
            # message or the chat deletes the note.
            """
            CREATE TABLE memory_notes (
                message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
                session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                note       TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX memory_notes_by_session ON memory_notes (session_id)",
        ),
    )


MIGRATIONS: list[Migration] = [
    m001_sessions_and_messages,
    m002_full_text_search,
    m003_cut_off_status,
    m004_drafts,
    m005_branch_choices,
    m006_documents,
    m007_memory_notes,
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
    """Apply the migrations not yet recorded, all in one transaction; returns their names.

    ``conn`` must be in autocommit mode (``isolation_level=None``) with a busy timeout, so the
    explicit transaction here is the only one and a second process waits for the first.
    """
    check_not_newer(conn, path)
    if schema_version(conn) == SCHEMA_VERSION:
        return []  # the usual case: no write lock needed
    # Table rebuilds need foreign keys off, and the pragma is a no-op inside a transaction.
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            applied = _apply_pending(conn, path)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    return applied


def _apply_pending(conn: sqlite3.Connection, path: Path | str) -> list[str]:
    # Read again under the write lock: another process may have migrated meanwhile.
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
        migration(conn)
        conn.execute(
            "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
            (name, datetime.now(UTC).isoformat(timespec="seconds")),
        )
        # PRAGMA takes no parameters; version is our own int.
        conn.execute(f"PRAGMA user_version = {int(version)}")
        applied.append(name)
    return applied
