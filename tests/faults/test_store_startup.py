"""Startup problems with the session database: one StartupError with one line, never a
traceback, and the file left as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from llama_chat.paths import StartupError
from llama_chat.store.migrations import SCHEMA_VERSION
from llama_chat.store.sessions import NewerSchemaError, SessionStore, SessionStoreError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_database(path: Path, user_version: int) -> None:
    """Another program's database that happens to have a `sessions` table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE sessions (token TEXT PRIMARY KEY, expires INTEGER)")
    conn.execute("INSERT INTO sessions VALUES ('abc', 0)")
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.close()


@pytest.mark.parametrize("user_version", [0, SCHEMA_VERSION])
def test_a_sessions_table_of_another_shape_is_refused_untouched(
    tmp_path: Path, user_version: int
) -> None:
    path = tmp_path / "sessions.db"
    foreign_database(path, user_version)
    before = digest(path)
    with pytest.raises(SessionStoreError) as info:
        SessionStore.open(path)
    message = str(info.value)
    assert isinstance(info.value, StartupError)
    assert "\n" not in message and str(path) in message and "'sessions'" in message
    assert digest(path) == before


def test_a_newer_schema_is_a_startup_error(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    SessionStore.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StartupError) as info:
        SessionStore.open(path)
    assert isinstance(info.value, NewerSchemaError)
    assert "\n" not in str(info.value)


def test_a_data_folder_that_cannot_be_created_is_a_startup_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(SessionStoreError) as info:
        SessionStore.open(blocker / "sessions.db")
    assert isinstance(info.value, StartupError)
    assert "\n" not in str(info.value) and str(blocker) in str(info.value)
