"""Schema migrations, from databases written by older versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llama_chat.status import MessageStatus
from llama_chat.store import migrations
from llama_chat.store.migrations import MIGRATIONS, SCHEMA_VERSION
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import build_v1_database, raw_connect

# -- migrations ----------------------------------------------------------------------------------


def test_v1_database_is_migrated_with_rows_intact(db_path: Path) -> None:
    build_v1_database(db_path)
    with SessionStore.open(db_path) as store:
        session = store.get_session(7)
        path = store.active_path(7)
        walrus_hits = store.search("walrus")
        swim_hits = store.search("swim")
    assert (session.title, session.quant, session.settings) == (
        "Old chat about walruses",
        "8bit",
        {"temperature": 0.5},
    )
    assert [(m.role, m.content) for m in path] == [
        ("user", "Do walruses swim?"),
        ("assistant", "Yes, very well."),
    ]
    assert path[1].status == "interrupted"
    assert [s.id for s, _ in walrus_hits] == [7]  # rows from before the search index existed
    assert [s.id for s, _ in swim_hits] == [7]
    conn = raw_connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_a_failing_migration_leaves_the_previous_version(db_path: Path, monkeypatch) -> None:
    with SessionStore.open(db_path):
        pass

    def m999_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, m999_broken])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="boom"):
        SessionStore.open(db_path)
    conn = raw_connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables
    names = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    assert "m999_broken" not in names


def build_v2_database(path: Path) -> None:
    """Schema version 2 (before 'cut_off'), built by the shipped migrations themselves, with a
    deleted message so the AUTOINCREMENT counter is ahead of the largest id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = raw_connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for version, migration in enumerate(MIGRATIONS[:2], start=1):
        migration(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, '2025-06-01')", (migration.__name__,))
        conn.execute(f"PRAGMA user_version = {version}")
    conn.executescript(
        """
        INSERT INTO sessions VALUES (3, 'Narwhal facts', '2025-06-01T10:00:00+00:00',
            '2025-06-01T10:00:00+00:00', '', '{}', 'm', '4bit', NULL);
        INSERT INTO messages VALUES (10, 3, NULL, 'user', 'How long is a narwhal tusk?', NULL,
            'complete', '2025-06-01T10:00:01+00:00', 1);
        INSERT INTO messages VALUES (11, 3, 10, 'assistant', 'Up to three metres', NULL,
            'stopped', '2025-06-01T10:00:02+00:00', 2);
        INSERT INTO messages VALUES (12, 3, 11, 'user', 'deleted later', NULL,
            'complete', '2025-06-01T10:00:03+00:00', 3);
        DELETE FROM messages WHERE id = 12;
        """
    )
    conn.close()


def schema_objects(path: Path) -> set[tuple[str, str]]:
    conn = raw_connect(path)
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return set(rows.fetchall())


def test_v2_database_gains_cut_off_with_ids_indexes_and_search_kept(db_path: Path) -> None:
    build_v2_database(db_path)
    objects_before = schema_objects(db_path)
    with SessionStore.open(db_path) as store:
        old = store.active_path(3)
        cut = store.add_message(3, "assistant", "A tusk can", parent_id=10, status="cut_off")
        hits = [s.id for s, _ in store.search("tusk")]
        store.delete_session(3)  # the rebuilt table still cascades
        left = store._query("SELECT COUNT(*) FROM messages")[0][0]
    assert [(m.id, m.status) for m in old] == [(10, "complete"), (11, "stopped")]
    assert cut.id == 13  # the deleted message's id 12 is not reused
    assert cut.status == MessageStatus.CUT_OFF
    assert hits == [3]
    assert left == 0
    # Every index and trigger is back; m004 added the drafts table, m005 branch choices, m006
    # the documents table, m007 memory notes.
    drafts = {("table", "drafts"), ("index", "drafts_one_per_chat")}
    branches = {("table", "branch_choices"), ("index", "branch_choices_one_per_fork")}
    branches.add(("index", "branch_choices_by_child"))
    documents = {("table", "documents")}
    notes = {("table", "memory_notes"), ("index", "memory_notes_by_session")}
    assert schema_objects(db_path) == objects_before | drafts | branches | documents | notes
    conn = raw_connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(
            "INSERT INTO messages (session_id, role, content, status, created_at, seq)"
            " VALUES (1, 'user', 'x', 'bogus', 'now', 1)"
        )
