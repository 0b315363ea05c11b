"""Saved sessions survive crashes, damaged files and newer schemas."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llama_chat.store.migrations import SCHEMA_VERSION, NewerSchemaError
from llama_chat.store.sessions import (
    SessionStore,
)
from tests.store_helpers import file_digest, new_session, raw_connect

REPO_ROOT = Path(__file__).resolve().parent.parent


# -- durability ----------------------------------------------------------------------------------


def test_streaming_messages_become_interrupted_on_open(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        s = new_session(store).id
        answer = store.add_message(s, "assistant", "half an ans", status="streaming")
    with SessionStore.open(db_path) as store:
        reopened = store.get_message(answer.id)
    assert (reopened.status, reopened.content) == ("interrupted", "half an ans")


CRASHING_WRITER = """
import sys, time
from pathlib import Path
from llama_chat.store.sessions import SessionStore

store = SessionStore.open(Path(sys.argv[1]))
common = dict(system_prompt="", settings={}, model="m", quant="4bit")
earlier = store.create_session(title="Earlier chat", **common)
store.add_message(earlier.id, "user", "kept intact")
crashing = store.create_session(title="Crashing chat", **common)
question = store.add_message(crashing.id, "user", "Tell me a story")
answer = store.add_message(crashing.id, "assistant", "", parent_id=question.id, status="streaming")
text = ""
step = 0
while True:
    step += 1
    text += f"w{step} "
    store.update_message(answer.id, text, "streaming")
    print(step, flush=True)
    time.sleep(0.05)
"""


def test_kill_9_while_streaming_keeps_the_partial_answer(db_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        steps_seen = 0
        while steps_seen < 5:
            line = child.stdout.readline()
            assert line, f"writer died early: {child.stderr.read()}"
            steps_seen = int(line)
            assert time.monotonic() < deadline
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    with SessionStore.open(db_path) as store:
        by_title = {s.title: s for s in store.list_sessions()}
        [question, answer] = store.active_path(by_title["Crashing chat"].id)
        [kept] = store.active_path(by_title["Earlier chat"].id)
    assert question.content == "Tell me a story"
    assert answer.status == "interrupted"
    words = answer.content.split()
    assert len(words) >= steps_seen  # every update reported before the kill was committed
    assert words == [f"w{i}" for i in range(1, len(words) + 1)]
    assert (kept.content, kept.status) == ("kept intact", "complete")
    conn = raw_connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_newer_schema_is_refused_and_left_untouched(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        new_session(store)
    conn = raw_connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute("PRAGMA journal_mode = DELETE")  # fold the WAL in so the file is the whole db
    conn.close()
    before = file_digest(db_path)
    with pytest.raises(NewerSchemaError) as info:
        SessionStore.open(db_path)
    assert str(SCHEMA_VERSION + 1) in str(info.value) and str(db_path) in str(info.value)
    assert file_digest(db_path) == before


def test_a_file_that_is_not_a_database_is_moved_aside(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not an SQLite database at all" * 200)
    db_path.with_name("sessions.db-wal").write_bytes(b"junk wal")
    with SessionStore.open(db_path) as store:
        assert store.recovered_from is not None
        assert store.recovered_from.name.startswith("sessions.db.corrupt-")
        assert store.recovered_from.read_bytes().startswith(b"this is not")
        assert Path(str(store.recovered_from) + "-wal").read_bytes() == b"junk wal"
        assert store.list_sessions() == []
        new_session(store)  # the fresh database works


def test_a_damaged_database_is_moved_aside(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        s = new_session(store).id
        for i in range(300):
            store.add_message(s, "user", f"message {i} " * 40)
    conn = raw_connect(db_path)
    conn.execute("PRAGMA journal_mode = DELETE")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db_path.read_bytes())
    for page in range(2, len(data) // page_size, 3):  # scribble over every third b-tree page
        data[page * page_size : page * page_size + 64] = b"\xa5" * 64
    db_path.write_bytes(bytes(data))
    with SessionStore.open(db_path) as store:
        assert store.recovered_from is not None
        assert store.list_sessions() == []
