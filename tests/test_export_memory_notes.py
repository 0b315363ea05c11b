"""Rolling-memory notes in exports: kept through JSON export and import, shown in Markdown."""

from __future__ import annotations

import json

import pytest

from llama_chat.store.export import (
    MARKDOWN_NOTE_HEADING,
    SessionImportError,
    export_json,
    export_markdown,
    import_json,
)
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import new_session


def chat_with_notes(store: SessionStore) -> tuple[int, list]:
    """Three turns, a second answer to the last question, and two notes: the first drop's
    (under the second question) and the next drop's (under its answer)."""
    session = new_session(store, "Long chat").id
    parent = None
    messages = []
    for i in range(3):
        for role, text in (("user", f"Question {i}?"), ("assistant", f"Answer {i}.")):
            parent = store.add_message(session, role, text, parent_id=parent).id
            messages.append(parent)
    other = store.add_message(session, "assistant", "Answer 2, again.", parent_id=messages[-2])
    messages.append(other.id)
    store.save_memory_note(session, messages[2], "The user asked questions 0 and 1.")
    store.save_memory_note(session, messages[3], "Questions 0-1 answered; then question 2.")
    return session, messages


def test_an_export_keeps_the_memory_notes_through_an_import(store: SessionStore) -> None:
    session, _ = chat_with_notes(store)
    original = export_json(store, session)
    assert [n["message"] for n in original["memory_notes"]] == [3, 4]
    imported = import_json(store, json.loads(json.dumps(original)))
    # Under the same messages, by the imported chat's own ids.
    by_content = {m.content: m.id for m in store.messages(imported.id)}
    assert store.memory_notes(imported.id) == {
        by_content["Question 1?"]: "The user asked questions 0 and 1.",
        by_content["Answer 1."]: "Questions 0-1 answered; then question 2.",
    }
    assert export_json(store, imported.id) == original  # updated_at kept too
    assert store.memory_notes(session) != store.memory_notes(imported.id)  # new ids


def test_an_export_from_before_notes_still_imports(store: SessionStore) -> None:
    session, _ = chat_with_notes(store)
    data = export_json(store, session)
    del data["memory_notes"]
    imported = import_json(store, data)
    assert store.memory_notes(imported.id) == {}
    assert len(store.messages(imported.id)) == 7


@pytest.mark.parametrize(
    ("note", "field"),
    [
        ({"message": 99, "note": "x", "updated_at": "2026-01-01T00:00:00"}, "memory_notes[1]"),
        ({"message": 3, "note": "again", "updated_at": "2026-01-01T00:00:00"}, "memory_notes[1]"),
        ({"message": 5, "note": None, "updated_at": "2026-01-01T00:00:00"}, "[1].note"),
        ({"message": 5, "note": "x", "updated_at": "soon"}, "[1].updated_at"),
    ],
)
def test_a_bad_note_refuses_the_import_and_writes_nothing(store, note, field) -> None:
    session, _ = chat_with_notes(store)
    data = export_json(store, session)
    data["memory_notes"][1] = note
    before = len(store.list_sessions())
    with pytest.raises(SessionImportError) as info:
        import_json(store, data)
    assert field in str(info.value)
    assert len(store.list_sessions()) == before


def test_markdown_shows_each_note_where_the_window_started(store: SessionStore) -> None:
    session, _ = chat_with_notes(store)
    markdown = export_markdown(store, session)
    heading = f"## {MARKDOWN_NOTE_HEADING}"
    assert markdown.count(heading) == 2
    first = markdown.index(heading)
    assert markdown.index("Answer 0.") < first < markdown.index("Question 1?")
    assert (
        first < markdown.index("The user asked questions 0 and 1.") < markdown.index("Question 1")
    )
    second = markdown.index(heading, first + 1)
    assert markdown.index("Question 1?") < second < markdown.index("Answer 1.")
