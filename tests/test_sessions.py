"""Saved sessions: chats, messages, branches, search, export and import."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llama_chat.store.export import (
    SessionImportError,
    export_json,
    export_markdown,
    import_json,
)
from llama_chat.store.migrations import MIGRATIONS, SCHEMA_VERSION
from llama_chat.store.sessions import NotFoundError, SessionStore
from tests.store_helpers import new_session, raw_connect

REPO_ROOT = Path(__file__).resolve().parent.parent


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
    original = export_json(store, build_branchy_chat(store))
    text = json.dumps(original)  # through real JSON, as a file would be
    imported = import_json(store, json.loads(text))
    again = export_json(store, imported.id)
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
    data = export_json(store, build_branchy_chat(store))
    before = len(store.list_sessions())
    mutate(data)
    with pytest.raises(SessionImportError) as info:
        import_json(store, data)
    assert field in str(info.value)
    assert len(store.list_sessions()) == before


def test_markdown_export_shows_the_active_branch(store: SessionStore) -> None:
    markdown = export_markdown(store, build_branchy_chat(store))
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
