"""Opening ``sessions.db``: the one place that connects to, recovers and migrates the database.

WAL journal (readers never wait for the writer; a killed process loses at most the transaction
in flight), foreign keys on, a busy timeout. A file that is not a database, or is damaged, is
moved aside and a fresh one started; every other failure is a `SessionStoreError` with one line
a person can act on.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from llama_chat.paths import move_aside, private_dir, private_file
from llama_chat.store.errors import SessionStoreError
from llama_chat.store.migrations import check_not_newer, migrate
from llama_chat.store.salvage import salvage_into
from mlx_model.files import RefusedFileError, check_regular_file

BUSY_TIMEOUT_MS = 5000
_SQLITE_HEADER = b"SQLite format 3\x00"


class _CorruptDatabase(Exception):
    reason = "corrupt"


class _ForeignDatabase(_CorruptDatabase):
    """An SQLite file another program made: moved aside untouched, never given our tables."""

    reason = "foreign"


# The columns the app reads; a table of the same name without them was made by something else.
_EXPECTED_COLUMNS = {
    "sessions": {"id", "title", "created_at", "updated_at", "system_prompt", "settings_json",
                 "model", "quant", "template_date"},
    "messages": {"id", "session_id", "parent_id", "role", "content", "tool_calls_json",
                 "status", "created_at", "seq"},
}  # fmt: skip


def open_database(path: Path) -> tuple[sqlite3.Connection, Path | None]:
    """Open (creating if needed), check and migrate the database at ``path``.

    Returns the connection (autocommit mode: callers write with explicit transactions) and,
    when the file was unreadable, where it was moved before a fresh one was started.
    Raises SessionStoreError (NewerSchemaError for a database from a newer llama-chat, left
    untouched).
    """
    path = Path(path)
    try:
        private_dir(path.parent)
    except OSError as exc:
        raise SessionStoreError(
            f"Cannot create the folder for saved chats, {path.parent} ({exc.strerror}); "
            "check that it is writable or set LLAMA_CHAT_HOME to another folder."
        ) from exc
    try:
        check_regular_file(path, 1 << 50)  # SQLite would wait for ever on a named pipe
    except RefusedFileError as exc:
        raise SessionStoreError(
            f"The saved chats database {path} is {exc.strerror}; move it away to start a "
            "fresh history."
        ) from None
    except OSError:
        pass  # missing (created below), or unreadable: SQLite's own error says which
    recovered_from = None
    try:
        try:
            if not _has_sqlite_header(path):
                # Checked before SQLite opens it: closing a connection to a non-database
                # deletes its -wal/-shm, which we want to keep with the moved file.
                raise _CorruptDatabase(path)
            conn = _connect(path)
        except (sqlite3.DatabaseError, _CorruptDatabase) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not _is_corruption(exc):
                raise
            reason = getattr(exc, "reason", "corrupt")
            recovered_from = move_aside(path, reason, companions=("-wal", "-shm", "-journal"))
            conn = _connect(path)
            if reason == "corrupt":
                salvage_into(conn, recovered_from)
    except sqlite3.DatabaseError as exc:
        raise SessionStoreError(
            f"Cannot open the saved chats database {path}: {exc}. Check that the folder is "
            "writable and that no other program holds the file."
        ) from exc
    except OSError as exc:  # moving a damaged file aside in a read-only folder
        raise SessionStoreError(
            f"Cannot use the saved chats database {path} ({exc.strerror or exc}); check the "
            "folder's permissions."
        ) from exc
    return conn, recovered_from


def _connect(path: Path) -> sqlite3.Connection:
    # A new database made by SQLite is 0644, and its -wal/-shm take its mode: make it 0600 first.
    private_file(path)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # The first read: raises SQLITE_NOTADB for a file that is not a database.
        check_not_newer(conn, path)
        if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
            raise _CorruptDatabase(path)
        _check_foreign_tables(conn, path)  # before the first write, so the file is untouched
        if _is_foreign(conn):
            raise _ForeignDatabase(path)
        _use_wal(conn)
        # In WAL mode NORMAL survives a crashed process; only power loss may drop the
        # last commits, never corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is
    # locked" at once, without the busy handler, while another process opening the same new
    # file holds a shared lock: so wait here, up to the busy timeout.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or (
                time.monotonic() > deadline
            ):
                raise
            time.sleep(0.01)


def _check_foreign_tables(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database whose tables have our names but not our columns (another program's)."""
    for table, expected in _EXPECTED_COLUMNS.items():
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        missing = expected - columns
        if columns and missing:
            raise SessionStoreError(
                f"{path} has a {table!r} table that llama-chat did not create (no column "
                f"{', '.join(sorted(missing))}); move the file away to start a fresh history."
            )


def _is_foreign(conn: sqlite3.Connection) -> bool:
    """True for a database with tables but no trace of llama-chat: our migrations set
    user_version in the same transaction that creates the first table."""
    if conn.execute("PRAGMA user_version").fetchone()[0] != 0:
        return False
    return conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0


def _is_corruption(exc: BaseException) -> bool:
    # NOTADB: not an SQLite file at all; CORRUPT: "database disk image is malformed".
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT"))


def _has_sqlite_header(path: Path) -> bool:
    """True for an SQLite file, and for a missing or empty one (SQLite starts those fresh)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
    except OSError:
        return True  # missing, or unreadable: then SQLite's own error says which
    return head == b"" or head == _SQLITE_HEADER
