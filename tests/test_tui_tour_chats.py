"""Saved chats as a returning user meets them: the chat open at quit comes back with its draft,
the context meter counts an opened chat at once, and search lists each chat once."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, ListView

from llama_chat.store.sessions import SessionStore
from tests.tui_pilot import SIZE, make_app, model_ready, seed_chat, wait_for

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


def long_exchange(turns: int) -> list[tuple[str, str]]:
    words = "the llama walked over the hill and found a field of tall green grass to eat"
    return [m for n in range(turns) for m in (("user", f"Q{n}: {words}"), ("assistant", words))]


async def test_the_meter_counts_an_opened_chat_that_fills_the_context_before_any_answer(paths):
    chat = seed_chat(paths, "Long", long_exchange(60))  # about 2,500 tokens; no KV cache file
    app = make_app(paths, context_limit=1024, max_tokens=64)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id == chat, "the chat to reopen")
        await model_ready(pilot)
        status = app.chat.status
        await wait_for(pilot, lambda: status.context_used > 0, "the meter to count the chat")
        used = status.context_used
        # The oldest turns drop out of view: what the model reads fits, room left for an answer.
        assert 1024 // 2 < used <= 1024 - 64
        assert status.context_text == f"ctx {used:,}/1,024"
        assert app.turns_finished() == 0


async def test_the_meter_counts_a_new_chat_once_the_model_is_loaded(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        status = app.chat.status
        await wait_for(pilot, lambda: status.context_used > 0, "the meter to count the chat")
        assert status.context_text == f"ctx {status.context_used:,}/8,192"


def row_texts(item) -> list[str]:
    return [str(label.render()) for label in item.query(Label) if str(label.render()).strip()]


async def test_search_lists_each_chat_once_and_a_title_hit_is_not_repeated(paths):
    trip = seed_chat(paths, "Trip to Lisbon", [("user", "Plan a trip"), ("assistant", "Trams")])
    food = seed_chat(
        paths, "Lisbon food", [("user", "What to eat in Lisbon"), ("assistant", "Nata")]
    )
    seed_chat(paths, "Bread", [("user", "Sourdough"), ("assistant", "Flour")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id is not None, "the last chat to reopen")
        sidebar = app.chat.sidebar
        sidebar.query_one("#session-search", Input).focus()
        await pilot.press(*"lisbon")
        await wait_for(pilot, lambda: len(sidebar.items) == 2, "the search results")
        await pilot.pause()
        assert sorted(i.session.id for i in sidebar.items) == sorted([trip, food])
        for item in sidebar.items:
            texts = row_texts(item)
            assert len(texts) == len(set(texts)), f"a row repeats itself: {texts}"
            assert not any(text == item.session.title for text in texts[1:])


async def test_down_in_the_search_box_moves_into_the_results(paths):
    seed_chat(paths, "Trip to Lisbon", [("user", "Plan a trip"), ("assistant", "Trams")])
    seed_chat(paths, "Bread", [("user", "Sourdough"), ("assistant", "Flour")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id is not None, "the last chat to reopen")
        sidebar = app.chat.sidebar
        search = sidebar.query_one("#session-search", Input)
        search.focus()
        await pilot.press(*"trip")
        await wait_for(pilot, lambda: len(sidebar.items) == 1, "the search results")
        await pilot.press("down")
        list_view = sidebar.query_one(ListView)
        assert app.focused is list_view
        assert list_view.highlighted_child is sidebar.items[0]
