"""Copying what can still be read from a damaged database into the fresh one started in its place.

One bad page used to cost every chat: the file was moved aside and the app started empty. Now the
chats are read back from the moved file row by row, in rowid order; a read that fails skips ahead
past the damaged part, and a row whose chat or parent message was lost is left out (the foreign
keys refuse it), so what is copied is consistent. Ids are kept, so KV-cache files still match.
The moved file is opened read-only and left as it was.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

# Parents before children: a message needs its chat, a document its message.
_TABLES = ("sessions", "messages", "documents", "branch_choices", "drafts")
_MAX_SKIP = 1 << 40


def salvage_into(conn: sqlite3.Connection, damaged: Path) -> int:
    """Copy the readable chats of ``damaged`` into ``conn`` (a fresh, migrated database) in one
    transaction; returns how many chats were copied (0 when nothing could be read)."""
    try:
        source = _open_read_only(damaged)
    except sqlite3.Error:
        return 0
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in _TABLES:
                _copy_table(source, conn, table)
            copied = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
            conn.execute("COMMIT")
            return copied
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            return 0
    finally:
        source.close()


def _open_read_only(path: Path) -> sqlite3.Connection:
    # mode=ro reads the moved -wal too; without a usable -shm that fails, and immutable=1
    # reads the main file alone.
    for flags in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error:
            conn.close()
    raise sqlite3.DatabaseError(f"cannot read {path}")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    with contextlib.suppress(sqlite3.Error):
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    return []


def _copy_table(source: sqlite3.Connection, target: sqlite3.Connection, table: str) -> None:
    wanted = set(_columns(target, table))
    columns = [c for c in _columns(source, table) if c in wanted]
    if not columns:
        return
    names = ", ".join(columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    for row in _readable_rows(source, table, names):
        with contextlib.suppress(sqlite3.Error):  # its chat or parent was lost, or a bad value
            target.execute(insert, row)


def _readable_rows(conn: sqlite3.Connection, table: str, names: str) -> Iterator[tuple]:
    """Every row that can be read, in rowid order, skipping ahead past damaged pages.

    One query per row: the sqlite3 module steps to the next row before it hands out the current
    one, so a cursor over many rows would lose the last good row before a damaged page.
    """
    query = f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1"
    last, skip = 0, 1  # rowids here are positive: AUTOINCREMENT ids, or assigned from 1
    while skip < _MAX_SKIP:
        try:
            row = conn.execute(query, (last,)).fetchone()
        except sqlite3.Error:
            last, skip = last + skip, skip * 2
            continue
        if row is None:
            return
        last, skip = row[0], 1
        yield row[1:]
