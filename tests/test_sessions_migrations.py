"""Schema migrations, from databases written by older versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from llama_chat.store import migrations
from llama_chat.store.migrations import MIGRATIONS, SCHEMA_VERSION
from llama_chat.store.sessions import (
    SessionStore,
)

from tests.store_helpers import build_v1_database, raw_connect

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sessions.db"


@pytest.fixture
def store(db_path: Path):
    with SessionStore.open(db_path) as opened:
        yield opened


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
