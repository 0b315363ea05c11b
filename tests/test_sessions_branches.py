"""The shown branch of a chat: a chosen child per fork, kept across reopening and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_chat.store.export import export_json, export_markdown, import_json
from llama_chat.store.records import NotFoundError
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import build_v1_database, new_session, raw_connect


def forked_chat(store: SessionStore) -> tuple[int, list[int]]:
    """One question answered three times, then a follow-up under the first answer."""
    s = new_session(store).id
    q = store.add_message(s, "user", "Name a fish")
    answers = [store.add_message(s, "assistant", f"Fish {n}", parent_id=q.id).id for n in (1, 2, 3)]
    return s, [q.id, *answers]


def contents(store: SessionStore, session_id: int) -> list[str]:
    return [m.content for m in store.active_path(session_id)]


def test_the_chosen_branch_is_shown_and_survives_reopening(db_path: Path) -> None:
    with SessionStore.open(db_path) as store:
        s, (q, a1, a2, a3) = forked_chat(store)
        assert contents(store, s) == ["Name a fish", "Fish 3"]  # none chosen: the latest
        path = store.select_branch(a1)
        assert [m.id for m in path] == [q, a1]
        follow = store.add_message(s, "user", "Bigger?", parent_id=a1)
        assert contents(store, s) == ["Name a fish", "Fish 1", "Bigger?"]
    with SessionStore.open(db_path) as store:
        assert [m.id for m in store.active_path(s)] == [q, a1, follow.id]
        store.select_branch(a2)  # a branch with no follow-up ends at the answer
        assert contents(store, s) == ["Name a fish", "Fish 2"]
        store.select_branch(a1)  # and going back finds the follow-up again
        assert contents(store, s)[-1] == "Bigger?"


def test_branch_positions_name_every_message_with_siblings(store: SessionStore) -> None:
    s, (q, a1, a2, a3) = forked_chat(store)
    store.add_message(s, "user", "Bigger?", parent_id=a1)
    assert store.branch_positions(s) == {a1: (0, 3), a2: (1, 3), a3: (2, 3)}


def test_a_new_sibling_is_shown_even_after_a_choice(store: SessionStore) -> None:
    s, (q, a1, _, _) = forked_chat(store)
    store.select_branch(a1)
    store.add_message(s, "assistant", "Fish 4", parent_id=q)  # regenerated on branch 1
    assert contents(store, s) == ["Name a fish", "Fish 4"]


def test_first_messages_fork_too(store: SessionStore) -> None:
    s = new_session(store).id
    first = store.add_message(s, "user", "Hi")
    store.add_message(s, "user", "Hello")  # an edit of the first question: a second root
    assert contents(store, s) == ["Hello"]
    store.select_branch(first.id)
    assert contents(store, s) == ["Hi"]


def test_selecting_an_unknown_message_says_so(store: SessionStore) -> None:
    with pytest.raises(NotFoundError, match="No message with id 999"):
        store.select_branch(999)


def test_export_keeps_the_choice_and_import_restores_it(store: SessionStore) -> None:
    s, (_, a1, _, _) = forked_chat(store)
    store.select_branch(a1)
    data = export_json(store, s)
    assert [m.get("selected", False) for m in data["messages"]] == [False, True, False, False]
    imported = import_json(store, json.loads(json.dumps(data)))
    assert contents(store, imported.id) == ["Name a fish", "Fish 1"]
    assert export_json(store, imported.id) == data
    assert "Fish 1" in export_markdown(store, s) and "Fish 3" not in export_markdown(store, s)


def test_deleting_a_chat_deletes_its_choices(store: SessionStore) -> None:
    s, (_, a1, _, _) = forked_chat(store)
    store.select_branch(a1)
    store.delete_session(s)
    assert store._query("SELECT COUNT(*) FROM branch_choices")[0][0] == 0


def test_an_old_database_with_forks_migrates_and_shows_the_latest(db_path: Path) -> None:
    build_v1_database(db_path)
    conn = raw_connect(db_path)
    conn.execute(
        "INSERT INTO messages VALUES (3, 7, 1, 'assistant', 'They float too.', NULL,"
        " 'complete', '2025-01-01T10:00:03.000000+00:00', 3)"
    )
    conn.close()
    with SessionStore.open(db_path) as store:
        assert contents(store, 7) == ["Do walruses swim?", "They float too."]
        store.select_branch(2)
        assert contents(store, 7) == ["Do walruses swim?", "Yes, very well."]
