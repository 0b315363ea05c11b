"""Drafts: unsent text kept per chat (and for the new chat) in the sessions database."""

from __future__ import annotations

from pathlib import Path

from llama_chat.store.sessions import SessionStore
from tests.store_helpers import new_session


def test_a_draft_per_chat_survives_reopening_and_goes_with_its_chat(tmp_path: Path) -> None:
    db_path = tmp_path / "sessions.db"
    with SessionStore.open(db_path) as store:
        chat = new_session(store)
        store.set_draft(chat.id, "half a thought")
        store.set_draft(None, "first words of a new chat")
        store.set_draft(None, "better first words")  # replaces, never a second row
    with SessionStore.open(db_path) as store:
        assert store.draft(chat.id) == "half a thought"
        assert store.draft(None) == "better first words"
        assert store._query("SELECT COUNT(*) FROM drafts")[0][0] == 2
        store.set_draft(None, "")
        assert store.draft(None) == ""
        store.delete_session(chat.id)
        assert store.draft(chat.id) == ""
        assert store._query("SELECT COUNT(*) FROM drafts")[0][0] == 0
