"""Saved chats as a returning user meets them: the chat open at quit comes back with its draft,
the context meter counts an opened chat at once, and search lists each chat once."""

from __future__ import annotations

import pytest

from llama_chat.store.sessions import SessionStore
from tests.tui_pilot import SIZE, make_app, seed_chat, wait_for

pytestmark = pytest.mark.anyio


async def test_restart_reopens_the_chat_open_at_quit_with_its_draft_not_the_newest(paths):
    trip = seed_chat(paths, "Trip", [("user", "Plan a trip"), ("assistant", "Day 1")])
    bread = seed_chat(paths, "Bread", [("user", "Bread tips"), ("assistant", "Salt")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id == bread, "the newest chat to reopen")
        app.chat.action_open_session(trip)
        await wait_for(pilot, lambda: app.session_id == trip, "the older chat to open")
        app.chat.prompt.focus()
        await pilot.press(*"half a plan")
        # Renaming the other chat makes it the most recently updated one.
        app.controller.rename_session(bread, "Sourdough").result(timeout=30)
    with SessionStore.open(paths.sessions_db) as sessions:
        assert sessions.list_sessions(limit=1)[0].id == bread
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id == trip, "the chat open at quit")
        await wait_for(pilot, lambda: app.chat.prompt.text == "half a plan", "its draft")
        await pilot.pause(0.3)  # nothing opens after it
        assert app.session_id == trip


async def test_restart_after_quitting_in_a_new_chat_shows_a_new_chat(paths):
    seed_chat(paths, "Bread", [("user", "Bread tips"), ("assistant", "Salt")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id is not None, "the newest chat to reopen")
        app.chat.action_new_session()
        await wait_for(pilot, lambda: app.session_id is None, "the new chat")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        assert app.session_id is None
