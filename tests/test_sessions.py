"""Saved sessions: a real SQLite file, real crashes, real migrations."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llama_chat.store import migrations
from llama_chat.store.migrations import MIGRATIONS, SCHEMA_VERSION, NewerSchemaError
from llama_chat.store.sessions import (
    NotFoundError,
    SessionImportError,
    SessionStore,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sessions.db"


@pytest.fixture
def store(db_path: Path):
    with SessionStore.open(db_path) as opened:
        yield opened


def new_session(store: SessionStore, title: str = "Chat", **overrides):
    fields = {
        "title": title,
        "system_prompt": "Be brief.",
        "settings": {"temperature": 0.6, "top_p": 0.9},
        "model": "mlx-community/Llama-3.2-3B-Instruct-4bit",
        "quant": "4bit",
        "template_date": "26 Jul 2024",
    }
    fields.update(overrides)
    return store.create_session(**fields)


def raw_connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# -- basics --------------------------------------------------------------------------------------


def test_open_creates_a_migrated_wal_database(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        assert store.recovered_from is None
    conn = raw_connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert applied == [m.__name__ for m in MIGRATIONS]


def test_create_get_and_list_most_recent_first(store: SessionStore) -> None:
    first = new_session(store, "First")
    second = new_session(store, "Second")
    assert store.get_session(first.id) == first
    assert first.settings == {"temperature": 0.6, "top_p": 0.9}
    assert first.template_date == "26 Jul 2024"
    assert [s.title for s in store.list_sessions()] == ["Second", "First"]
    store.add_message(first.id, "user", "bump")  # activity moves a chat to the top
    assert [s.title for s in store.list_sessions()] == ["First", "Second"]
    assert [s.title for s in store.list_sessions(limit=1, offset=1)] == ["Second"]
    assert second.id != first.id


def test_rename_and_settings(store: SessionStore) -> None:
    session = new_session(store)
    assert store.rename_session(session.id, "Renamed").title == "Renamed"
    updated = store.set_session_settings(session.id, {"temperature": 0.0}, system_prompt="Hi")
    assert updated.settings == {"temperature": 0.0}
    assert updated.system_prompt == "Hi"
    with pytest.raises(NotFoundError):
        store.rename_session(session.id + 100, "x")


def test_delete_cascades_to_messages_and_search_and_never_reuses_ids(store: SessionStore) -> None:
    session = new_session(store, "Doomed")
    store.add_message(session.id, "user", "zebra crossing")
    assert store.delete_session(session.id) == [session.id]
    assert store.delete_session(session.id) == []
    with pytest.raises(NotFoundError):
        store.get_session(session.id)
    assert store.messages(session.id) == []
    assert store.search("zebra") == [] and store.search("doomed") == []
    assert new_session(store).id > session.id  # cache files are named after ids


def test_add_message_is_committed_before_it_returns(store: SessionStore, db_path: Path) -> None:
    session = new_session(store)
    message = store.add_message(session.id, "user", "hello")
    other = raw_connect(db_path)  # a second connection sees only committed data
    row = other.execute("SELECT content, status FROM messages WHERE id = ?", (message.id,))
    assert row.fetchone() == ("hello", "complete")


def test_add_message_checks_role_status_and_parent(store: SessionStore, db_path: Path) -> None:
    session = new_session(store)
    other = new_session(store)
    foreign = store.add_message(other.id, "user", "elsewhere")
    with pytest.raises(ValueError, match="role"):
        store.add_message(session.id, "robot", "x")
    with pytest.raises(ValueError, match="status"):
        store.add_message(session.id, "user", "x", status="done")
    with pytest.raises(NotFoundError):
        store.add_message(session.id, "user", "x", parent_id=foreign.id)
    with pytest.raises(sqlite3.IntegrityError):  # the schema guards writers that bypass the API
        raw_connect(db_path).execute(
            "INSERT INTO messages (session_id, role, content, status, created_at, seq)"
            " VALUES (?, 'user', '', 'bogus', '', 99)",
            (session.id,),
        )


def test_update_message_replaces_content_status_and_tool_calls(store: SessionStore) -> None:
    session = new_session(store)
    answer = store.add_message(session.id, "assistant", "", status="streaming")
    store.update_message(answer.id, "partial", "streaming")
    calls = [{"type": "function", "function": {"name": "now", "arguments": {}}}]
    done = store.update_message(answer.id, "partial and done", "complete", tool_calls=calls)
    assert (done.content, done.status, done.tool_calls) == ("partial and done", "complete", calls)
    kept = store.update_message(answer.id, "again", "stopped")
    assert kept.tool_calls == calls
    with pytest.raises(NotFoundError):
        store.update_message(answer.id + 1000, "x", "complete")


# -- branches ------------------------------------------------------------------------------------


def test_active_path_follows_latest_branch_and_keeps_old_ones(store: SessionStore) -> None:
    s = new_session(store).id
    q1 = store.add_message(s, "user", "Question 1")
    a1 = store.add_message(s, "assistant", "Answer 1", parent_id=q1.id)
    q2 = store.add_message(s, "user", "Question 2", parent_id=a1.id)
    a2 = store.add_message(s, "assistant", "Answer 2", parent_id=q2.id)
    assert [m.id for m in store.active_path(s)] == [q1.id, a1.id, q2.id, a2.id]

    regenerated = store.add_message(s, "assistant", "Answer 2, take two", parent_id=q2.id)
    assert [m.id for m in store.active_path(s)] == [q1.id, a1.id, q2.id, regenerated.id]

    edited = store.add_message(s, "user", "Question 1, edited")  # a new root: edit of the first
    a1b = store.add_message(s, "assistant", "Answer 1b", parent_id=edited.id)
    assert [m.id for m in store.active_path(s)] == [edited.id, a1b.id]

    assert len(store.messages(s)) == 7  # nothing was lost
    assert [m.id for m in store.siblings(a2.id)] == [a2.id, regenerated.id]
    assert [m.id for m in store.siblings(q1.id)] == [q1.id, edited.id]


# -- search --------------------------------------------------------------------------------------


def test_search_finds_titles_and_messages_with_snippets(store: SessionStore) -> None:
    trip = new_session(store, "Trip to Lisbon")
    cooking = new_session(store, "Cooking")
    store.add_message(cooking.id, "user", "How long do I boil a café egg for breakfast?")
    hits = store.search("lisb")
    assert [(s.id, snippet) for s, snippet in hits] == [(trip.id, "Trip to **Lisbon**")]
    [(session, snippet)] = store.search("cafe EGG")  # diacritics and case folded, all words
    assert session.id == cooking.id and "**egg**" in snippet
    assert store.search("egg lisbon") == []


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=40))
def test_search_never_raises_on_any_user_text(store: SessionStore, query: str) -> None:
    assert isinstance(store.search(query), list)


@pytest.mark.parametrize(
    "query", ['"', "AND", "a OR", "NEAR(a b)", "title:x", "-x", "*", "((", "'"]
)
def test_search_treats_fts_syntax_as_text(store: SessionStore, query: str) -> None:
    session = new_session(store, "Operators")
    store.add_message(session.id, "user", "use AND title: NEAR(a b) here")
    store.search(query)  # must not raise
    assert [s.id for s, _ in store.search("NEAR(a")] == [session.id]


# -- export / import -----------------------------------------------------------------------------


def build_branchy_chat(store: SessionStore) -> int:
    s = new_session(store, "Ünïcode & `code`").id
    q = store.add_message(s, "user", "What's the time in Tokyo? 🗼")
    call = [{"type": "function", "function": {"name": "get_time", "arguments": {"tz": "JST"}}}]
    a = store.add_message(s, "assistant", "", parent_id=q.id, tool_calls=call)
    t = store.add_message(s, "ipython", '{"time": "09:00"}', parent_id=a.id)
    store.add_message(s, "assistant", "It is 9 am.", parent_id=t.id, status="stopped")
    store.add_message(s, "assistant", "Nine in the morning.", parent_id=t.id)
    return s


def test_export_import_round_trips_exactly(store: SessionStore) -> None:
    original = store.export_json(build_branchy_chat(store))
    text = json.dumps(original)  # through real JSON, as a file would be
    imported = store.import_json(json.loads(text))
    again = store.export_json(imported.id)
    assert again == original
    assert imported.title == "Ünïcode & `code`"
    assert len(original["messages"]) == 5
    assert [m.content for m in store.active_path(imported.id)][-1] == "Nine in the morning."


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d["session"].pop("title"), "session.title"),
        (lambda d: d["messages"][1].update(parent=42), "messages[1].parent"),
        (lambda d: d["messages"][0].update(role="robot"), "messages[0].role"),
        (lambda d: d["messages"][2].update(created_at="yesterday"), "messages[2].created_at"),
        (lambda d: d["messages"][0].update(content=None), "messages[0].content"),
    ],
)
def test_import_names_the_bad_field_and_writes_nothing(store: SessionStore, mutate, field) -> None:
    data = store.export_json(build_branchy_chat(store))
    before = len(store.list_sessions())
    mutate(data)
    with pytest.raises(SessionImportError) as info:
        store.import_json(data)
    assert field in str(info.value)
    assert len(store.list_sessions()) == before


def test_markdown_export_shows_the_active_branch(store: SessionStore) -> None:
    markdown = store.export_markdown(build_branchy_chat(store))
    assert markdown.startswith("# Ünïcode & `code`\n")
    assert "Be brief." in markdown
    assert "What's the time in Tokyo? 🗼" in markdown
    assert '"name": "get_time"' in markdown
    assert "Nine in the morning." in markdown
    assert "It is 9 am." not in markdown  # the older sibling is not on the active path
    assert (
        markdown.index("## User")
        < markdown.index("## Tool result")
        < markdown.rindex("## Assistant")
    )


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


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


# -- migrations ----------------------------------------------------------------------------------


def build_v1_database(path: Path) -> None:
    """Schema version 1 written by hand, as the first release's migration created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = raw_connect(path)
    conn.executescript(
        """
        CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
        INSERT INTO _migrations VALUES ('m001_sessions_and_messages', '2025-01-01T00:00:00+00:00');
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, system_prompt TEXT NOT NULL DEFAULT '',
            settings_json TEXT NOT NULL DEFAULT '{}', model TEXT NOT NULL, quant TEXT NOT NULL,
            template_date TEXT);
        CREATE INDEX sessions_by_updated ON sessions (updated_at DESC, id DESC);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
            role TEXT NOT NULL, content TEXT NOT NULL, tool_calls_json TEXT,
            status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN
                ('complete', 'streaming', 'stopped', 'error', 'interrupted')),
            created_at TEXT NOT NULL, seq INTEGER NOT NULL, UNIQUE (session_id, seq));
        CREATE INDEX messages_by_parent ON messages (parent_id);
        CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming';
        INSERT INTO sessions VALUES (7, 'Old chat about walruses',
            '2025-01-01T10:00:00.000000+00:00', '2025-01-01T10:05:00.000000+00:00', 'sys',
            '{"temperature": 0.5}', 'm', '8bit', NULL);
        INSERT INTO messages VALUES (1, 7, NULL, 'user', 'Do walruses swim?', NULL, 'complete',
            '2025-01-01T10:00:01.000000+00:00', 1);
        INSERT INTO messages VALUES (2, 7, 1, 'assistant', 'Yes, very well.', NULL, 'streaming',
            '2025-01-01T10:00:02.000000+00:00', 2);
        PRAGMA user_version = 1;
        """
    )
    conn.close()


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
