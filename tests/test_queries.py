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


def test_the_documents_of_a_page_of_messages_are_read_in_one_query(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        session = new_session(store)
        parent, carriers = None, []
        for n in range(30):
            if n % 3 == 0:
                message, _ = store.add_document(
                    session.id,
                    f"doc {n}",
                    parent_id=parent,
                    name=f"d{n}.txt",
                    text=f"doc {n}",
                    size_bytes=5,
                    tokens=3,
                )
                carriers.append(message.id)
            else:
                message = store.add_message(session.id, "user", f"Q{n}", parent_id=parent)
            parent = store.add_message(session.id, "assistant", "A", parent_id=message.id).id
        queries = ChatQueries(store)
        users = [m.id for m in queries.active_path(session.id) if m.role == "user"]
        seen: list[str] = []
        store._conn.set_trace_callback(seen.append)  # the store's one connection
        documents = queries.documents_of_messages(users)
        store._conn.set_trace_callback(None)
        assert len(seen) == 1
        assert sorted(documents) == carriers
        assert [documents[i].name for i in carriers[:2]] == ["d0.txt", "d3.txt"]
        assert queries.documents_of_messages([]) == {}
        shown = queries.shown_chat(session.id)
        assert shown.documents == documents and len(shown.messages) == 60
        assert queries.shown_chat(None).messages == []
