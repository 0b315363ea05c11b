"""The front ends' read-only face on the saved chats (queries.py)."""

from __future__ import annotations

from pathlib import Path

from llama_chat.queries import ChatQueries
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import new_session


def test_queries_read_what_the_store_saved(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        session = new_session(store)
        question = store.add_message(session.id, "user", "Name a fish")
        for fish in ("Cod", "Eel"):
            store.add_message(session.id, "assistant", fish, parent_id=question.id)
        store.set_draft(session.id, "and a bird?")
        queries = ChatQueries(store)
        assert [m.content for m in queries.active_path(session.id)] == ["Name a fish", "Eel"]
        assert queries.branch_positions(session.id) == store.branch_positions(session.id)
        assert [s.id for s in queries.list_sessions()] == [session.id]
        assert queries.count_sessions() == 1
        assert queries.get_session(session.id).title == session.title
        assert queries.draft(session.id) == "and a bird?"
        assert [s.id for s, _ in queries.search("fish")] == [session.id]


def test_the_new_chat_not_saved_yet_has_nothing_to_read(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        queries = ChatQueries(store)
        assert queries.active_path(None) == []
        assert queries.branch_positions(None) == {}


def test_the_face_offers_no_way_to_write() -> None:
    writes = ("add", "set", "create", "delete", "rename", "update", "select", "insert", "save")
    public = [name for name in vars(ChatQueries) if not name.startswith("_")]
    assert public and not [name for name in public if name.startswith(writes)]
