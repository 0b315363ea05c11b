"""Another process holding the database, or writing an answer in it.

A database held locked past the busy timeout gave ``export``, ``import`` and the app's start a
traceback; now each says so in one line. And opening the store marked every 'streaming' answer
interrupted, including the one a running app was writing: only answers whose writer is gone are.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llama_chat.cli import main
from llama_chat.paths import AppPaths
from llama_chat.status import MessageStatus
from llama_chat.store import db
from llama_chat.store.sessions import SessionStore, SessionStoreError
from tests.store_helpers import new_session, raw_connect

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys, time
    from llama_chat.store.sessions import SessionStore
    store = SessionStore.open(sys.argv[1])
    session = store.create_session(title="Live", system_prompt="", settings={}, model="m",
                                   quant="4bit")
    question = store.add_message(session.id, "user", "Hi")
    answer = store.add_message(session.id, "assistant", "Hel", parent_id=question.id,
                               status="streaming")
    print(answer.id, flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def live_writer(db_path):
    """Another process in the middle of streaming an answer; yields (process, message id)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        message_id = int(process.stdout.readline())
        yield process, message_id
    finally:
        process.kill()
        process.wait()


def test_an_answer_being_written_elsewhere_is_left_streaming(db_path, live_writer):
    _, message_id = live_writer
    with SessionStore.open(db_path) as store:
        assert store.get_message(message_id).status == MessageStatus.STREAMING


def test_an_answer_whose_writer_was_killed_is_interrupted(db_path, live_writer):
    process, message_id = live_writer
    process.send_signal(signal.SIGKILL)
    process.wait()
    with SessionStore.open(db_path) as store:
        assert store.get_message(message_id).status == MessageStatus.INTERRUPTED


def test_an_answer_of_this_process_survives_a_second_store(db_path):
    with SessionStore.open(db_path) as app_store:
        session = new_session(app_store)
        answer = app_store.add_message(session.id, "assistant", "Hel", status="streaming")
        with SessionStore.open(db_path) as other:
            assert other.get_message(answer.id).status == MessageStatus.STREAMING
        app_store.update_message(answer.id, "Hello", MessageStatus.COMPLETE)
    with SessionStore.open(db_path) as store:
        assert store.get_message(answer.id).status == MessageStatus.COMPLETE


@pytest.fixture
def short_busy_timeout(monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)


def hold_write_lock(path: Path):
    conn = raw_connect(path)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_locked_database_with_an_answer_to_mark_is_one_line(db_path, short_busy_timeout):
    with SessionStore.open(db_path) as store:
        session = new_session(store)
    conn = raw_connect(db_path)  # a crashed writer's answer: opening must write to mark it
    conn.execute(
        "INSERT INTO messages (session_id, role, content, status, created_at, seq)"
        " VALUES (?, 'assistant', 'Hel', 'streaming', '2025-01-01T00:00:00+00:00', 1)",
        (session.id,),
    )
    conn.close()
    holder = hold_write_lock(db_path)
    try:
        with pytest.raises(SessionStoreError, match="another program holds it locked"):
            SessionStore.open(db_path)
    finally:
        holder.close()


@pytest.fixture
def home(tmp_path, monkeypatch) -> AppPaths:
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    paths = AppPaths.from_env().ensure()
    with SessionStore.open(paths.sessions_db) as store:
        new_session(store, "Keep")
    return paths


def test_import_into_a_locked_database_is_one_line(home, tmp_path, capsys, short_busy_timeout):
    exported = tmp_path / "chat.json"
    assert main(["export", "-o", str(exported)]) == 0
    capsys.readouterr()
    holder = hold_write_lock(home.sessions_db)
    try:
        assert main(["import", str(exported)]) == 1
    finally:
        holder.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "locked" in err


def test_export_and_open_of_an_exclusively_held_database_are_one_line(
    home, tmp_path, capsys, short_busy_timeout
):
    holder = raw_connect(home.sessions_db)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert main(["export", "-o", str(tmp_path / "x.md")]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        with pytest.raises(SessionStoreError, match="locked"):
            SessionStore.open(home.sessions_db)
    finally:
        holder.close()
