"""Documents saved with a chat: the m006 migration, cascades, and export/import keeping them."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_chat.store.export import SessionImportError, export_json, import_json
from llama_chat.store.migrations import MIGRATIONS
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import new_session, raw_connect


def build_v4_database(path: Path) -> None:
    """A database as the release before documents left it, with one chat in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = raw_connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    old = [m for m in MIGRATIONS if m.__name__ < "m005"]
    for version, migration in enumerate(old, start=1):
        migration(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, '2025-06-01')", (migration.__name__,))
        conn.execute(f"PRAGMA user_version = {version}")
    conn.executescript(
        """
        INSERT INTO sessions VALUES (3, 'Old chat', '2025-06-01T10:00:00+00:00',
            '2025-06-01T10:00:00+00:00', '', '{}', 'm', '4bit', NULL);
        INSERT INTO messages VALUES (10, 3, NULL, 'user', 'Hello', NULL,
            'complete', '2025-06-01T10:00:01+00:00', 1);
        """
    )
    conn.close()


def attach(store: SessionStore, session_id: int, parent: int | None, summary: str | None = None):
    return store.add_document(
        session_id,
        "Document report.txt:\nDeadline is Friday.",
        parent_id=parent,
        name="report.txt",
        text="Deadline is Friday.",
        size_bytes=19,
        tokens=5,
        summary=summary,
    )


def test_an_old_database_gains_documents_and_keeps_its_chats(db_path: Path) -> None:
    build_v4_database(db_path)
    with SessionStore.open(db_path) as store:
        assert [m.content for m in store.active_path(3)] == ["Hello"]
        assert store.documents(3) == []
        message, document = attach(store, 3, parent=10)
        assert store.active_path(3)[-1].id == message.id == document.message_id
        assert store.document_of_message(message.id) == document
        assert store.document_of_message(10) is None
    conn = raw_connect(db_path)
    names = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    assert "m006_documents" in names


def test_deleting_a_chat_deletes_its_documents(store: SessionStore) -> None:
    info = new_session(store)
    attach(store, info.id, parent=None)
    store.delete_session(info.id)
    assert store._query("SELECT COUNT(*) FROM documents")[0][0] == 0


def test_export_then_import_keeps_documents_on_their_messages(store: SessionStore) -> None:
    info = new_session(store)
    first = store.add_message(info.id, "user", "Read this", parent_id=None)
    attach(store, info.id, parent=first.id, summary="A deadline.")
    data = export_json(store, info.id)
    assert [d["message"] for d in data["documents"]] == [2]
    copy = import_json(store, data)
    (document,) = store.documents(copy.id)
    assert (document.name, document.text, document.summary) == (
        "report.txt",
        "Deadline is Friday.",
        "A deadline.",
    )
    assert store.active_path(copy.id)[-1].id == document.message_id
    assert export_json(store, copy.id)["documents"] == data["documents"]


def test_an_export_from_before_documents_still_imports(store: SessionStore) -> None:
    info = new_session(store)
    store.add_message(info.id, "user", "Hi", parent_id=None)
    data = export_json(store, info.id)
    del data["documents"]
    assert store.documents(import_json(store, data).id) == []


def test_a_document_pointing_at_no_message_is_refused(store: SessionStore) -> None:
    info = new_session(store)
    attach(store, info.id, parent=None)
    data = export_json(store, info.id)
    data["documents"][0]["message"] = 9
    with pytest.raises(SessionImportError, match=r"documents\[0\].message refers to 9"):
        import_json(store, data)
