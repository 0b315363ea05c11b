"""An import writes the whole chat, documents included, or nothing.

Before, messages were committed first and documents one by one after: a bad document date, a
size SQLite cannot hold, two documents on one message or a failing disk left a chat without its
documents while the CLI said the import failed.
"""

from __future__ import annotations

import copy

import pytest

from llama_chat.store.export import SessionImportError, export_json, import_json
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import new_session, raw_connect


@pytest.fixture
def exported(db_path):
    """An export of a chat of four messages, two of them carrying a document."""
    with SessionStore.open(db_path) as store:
        info = new_session(store, "With notes")
        first, _ = store.add_document(
            info.id, "Document a.txt", parent_id=None, name="a.txt", text="alpha",
            size_bytes=5, tokens=2,
        )  # fmt: skip
        answer = store.add_message(info.id, "assistant", "Read it.", parent_id=first.id)
        second, _ = store.add_document(
            info.id, "Document b.txt", parent_id=answer.id, name="b.txt", text="beta",
            size_bytes=4, tokens=2,
        )  # fmt: skip
        store.add_message(info.id, "assistant", "Both read.", parent_id=second.id)
        data = export_json(store, info.id)
        store.delete_session(info.id)
    return data


def damaged(data, index: int, **changes):
    data = copy.deepcopy(data)
    data["documents"][index].update(changes)
    return data


@pytest.mark.parametrize(
    "changes",
    [
        {"created_at": "yesterday"},
        {"created_at": "0001-01-01T00:00:00+01:00"},
        {"size_bytes": 10**30},
        {"tokens": 2**63},
        {"size_bytes": -1},
        {"message": 1},  # the first document's message already carries one
    ],
    ids=["bad-date", "date-before-year-1", "huge-size", "huge-tokens", "negative", "two-on-one"],
)
def test_a_bad_second_document_refuses_the_whole_chat(db_path, exported, changes):
    with SessionStore.open(db_path) as store:
        with pytest.raises(SessionImportError, match=r"documents\[1\]"):
            import_json(store, damaged(exported, 1, **changes))
        assert store.count_sessions() == 0


def test_a_write_that_fails_half_way_leaves_no_chat(db_path, exported):
    with SessionStore.open(db_path) as store:
        pass
    # A real SQLite failure on the second document, as a full disk would give.
    conn = raw_connect(db_path)
    conn.execute(
        "CREATE TRIGGER fail_second BEFORE INSERT ON documents"
        " WHEN (SELECT COUNT(*) FROM documents) >= 1"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    conn.close()
    with SessionStore.open(db_path) as store:
        with pytest.raises(Exception, match="disk is full"):
            import_json(store, exported)
        assert store.count_sessions() == 0
        assert store._query("SELECT COUNT(*) FROM messages")[0][0] == 0


def test_a_good_import_keeps_every_document_on_its_message(db_path, exported):
    with SessionStore.open(db_path) as store:
        info = import_json(store, exported)
        documents = store.documents(info.id)
        assert [d.name for d in documents] == ["a.txt", "b.txt"]
        assert [store.get_message(d.message_id).content for d in documents] == [
            "Document a.txt",
            "Document b.txt",
        ]
