"""Saved chats: the sidebar, search, rename, export, delete, and coming back after a restart."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input, ListView

from llama_chat.store.export import export_json, export_markdown
from llama_chat.tui.screens.dialogs import ConfirmDialog, ExportDialog, RenameDialog
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from tests.tui_pilot import (
    SIZE,
    make_app,
    model_ready,
    on_screen,
    seed_chat,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def export_dir(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


async def test_sidebar_lists_chats_newest_first_and_opens_one(paths):
    older = seed_chat(paths, "Trip to Lisbon", [("user", "Plan a trip"), ("assistant", "Day 1")])
    newer = seed_chat(paths, "Sourdough", [("user", "Bread tips"), ("assistant", "Use **salt**")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await wait_for(pilot, lambda: app.session_id == newer, "the last chat to reopen")
        await pilot.pause()
        items = app.chat.sidebar.items
        assert [i.session.id for i in items] == [newer, older]
        app.chat.sidebar.query_one(ListView).focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.session_id == older, "the chat to open")
        await wait_for(pilot, lambda: len(widgets(app, AssistantMessage)) == 1, "messages")
        assert [u.text for u in widgets(app, UserMessage)] == ["Plan a trip"]
        assert widgets(app, AssistantMessage)[0].text == "Day 1"
        # Answering continues that chat.
        await send(pilot, "And day 2?")
        assert len(app.controller.sessions.active_path(older)) == 4


async def test_search_rename_export_and_delete_from_the_sidebar(paths, export_dir):
    lisbon = seed_chat(paths, "Trip", [("user", "Plan a trip to Lisbon"), ("assistant", "Ok")])
    bread = seed_chat(paths, "Bread", [("user", "Sourdough starter"), ("assistant", "Flour")])
    app = make_app(paths, export_dir)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await wait_for(pilot, lambda: app.session_id == bread, "the last chat to reopen")
        await pilot.pause()
        sidebar = app.chat.sidebar
        sessions = app.controller.sessions

        sidebar.query_one("#session-search", Input).focus()
        await pilot.press(*"lisb")
        await wait_for(
            pilot, lambda: [i.session.id for i in sidebar.items] == [lisbon], "search results"
        )
        assert "Lisbon" in "".join(s.text for y in (0, 1) for s in sidebar.items[0].render_line(y))

        await pilot.press("enter")  # from the search box to the results
        await pilot.press("r")
        await on_screen(pilot, RenameDialog, "rename dialog")
        app.screen.query_one(Input).value = "Lisbon in May"
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: [i.session.title for i in sidebar.items] == ["Lisbon in May"],
            "the renamed chat in the list",
        )
        assert sessions.get_session(lisbon).title == "Lisbon in May"

        await pilot.press("e")
        await on_screen(pilot, ExportDialog, "export dialog")
        await pilot.click("#markdown")
        await wait_for(pilot, lambda: list(export_dir.glob("*.md")), "the Markdown file")
        (markdown,) = export_dir.glob("*.md")
        assert markdown.read_text() == export_markdown(sessions, lisbon)
        await wait_for(pilot, lambda: any(str(markdown) in m for m, _ in app.notices), "notice")

        sidebar.query_one(ListView).focus()
        await pilot.press("d")
        await on_screen(pilot, ConfirmDialog, "confirm dialog")
        await pilot.click("#confirm")
        await wait_for(
            pilot, lambda: [s.id for s in sessions.list_sessions()] == [bread], "the delete"
        )
        sidebar.query_one("#session-search", Input).value = ""
        await wait_for(
            pilot, lambda: [i.session.id for i in sidebar.items] == [bread], "the list to refresh"
        )
        assert not app.errors()


async def test_the_palette_exports_the_open_chat_as_json(paths, export_dir):
    session_id = seed_chat(paths, "Bread", [("user", "Sourdough"), ("assistant", "Flour")])
    app = make_app(paths, export_dir)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await app.chat.run_action(f"open_session({session_id})")
        await wait_for(pilot, lambda: app.session_id == session_id, "the chat to open")
        await app.chat.run_action("export_session('json')")
        await wait_for(pilot, lambda: list(export_dir.glob("*.json")), "the JSON file")
        (exported,) = export_dir.glob("*.json")
        assert json.loads(exported.read_text()) == export_json(app.controller.sessions, session_id)


async def test_deleting_the_open_chat_leaves_it_first(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Short-lived")
        doomed = app.session_id
        await app.chat.run_action("delete_session")
        await on_screen(pilot, ConfirmDialog, "confirm dialog")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: app.session_id is None, "a new chat")
        await wait_for(pilot, lambda: not app.chat.sidebar.items, "the empty list")
        assert not app.chat.messages.children
        assert not list(paths.kv_cache_dir.glob(f"session-{doomed}*"))


async def test_a_restarted_app_finds_the_chat_with_its_messages(paths):
    first = make_app(paths)
    async with first.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Persist me")
        answer = widgets(first, AssistantMessage)[0].text
        session_id = first.session_id
        await pilot.press("ctrl+q")
    assert first.return_code == 0
    assert list(paths.kv_cache_dir.glob("session-*")), "quitting saves the chat's KV cache"

    second = make_app(paths)
    async with second.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        items = second.chat.sidebar.items
        assert [i.session.id for i in items] == [session_id]
        assert items[0].session.title == "Persist me"
        second.chat.sidebar.query_one(ListView).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: widgets(second, AssistantMessage), "the restored chat")
        assert [u.text for u in widgets(second, UserMessage)] == ["Persist me"]
        assert widgets(second, AssistantMessage)[0].text == answer
        # The saved KV cache came back: the context already holds the chat.
        await wait_for(
            pilot,
            lambda: not second.chat.status.context_text.startswith("ctx 0/"),
            "the context meter to show the restored cache",
        )
