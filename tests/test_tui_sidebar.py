"""The saved-chats list: every chat reachable a page at a time, with dates and full titles."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from textual.widgets import ListView

from llama_chat.events import Job
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.widgets.session_rows import MoreItem, when
from llama_chat.tui.widgets.session_sidebar import PAGE_SIZE
from tests.tui_pilot import SIZE, make_app, model_ready, send, wait_for

pytestmark = pytest.mark.anyio


async def open_chat(pilot, session_id: int) -> None:
    app = pilot.app
    app.chat.action_open_session(session_id)
    await wait_for(pilot, lambda: app.session_id == session_id, "the chat to open")
    await wait_for(pilot, lambda: app.chat.sidebar.highlighted_session() == session_id, "its row")


def seed_many(paths, count: int, title: str = "Chat {i}") -> None:
    store = SessionStore.open(paths.sessions_db)
    for i in range(count):
        info = store.create_session(
            title=title.format(i=i), system_prompt="", settings={}, model="demo", quant="4bit"
        )
        store.add_message(info.id, "user", f"message {i}")
    store.close()


async def test_more_than_a_page_of_chats_are_all_reachable(paths):
    seed_many(paths, PAGE_SIZE * 2 + 20)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        await wait_for(pilot, lambda: len(sidebar.items) == PAGE_SIZE, "the first page")
        # The newest chat reopens on start and then takes the focus for the message box.
        await wait_for(
            pilot, lambda: app.session_id is not None and app.chat.prompt.has_focus, "the reopen"
        )
        more = list(sidebar.query(MoreItem))
        assert [m.remaining for m in more] == [PAGE_SIZE + 20]
        list_view = sidebar.query_one(ListView)
        list_view.focus()
        await pilot.press("end")  # reaching the last row lists the next page
        await wait_for(pilot, lambda: len(sidebar.items) == 2 * PAGE_SIZE, "the second page")
        await pilot.press("end")
        await wait_for(pilot, lambda: len(sidebar.items) == 2 * PAGE_SIZE + 20, "the rest")
        assert not sidebar.query(MoreItem)
        titles = [item.session.title for item in sidebar.items]
        assert titles[0] == f"Chat {2 * PAGE_SIZE + 19}" and titles[-1] == "Chat 0"
        assert len(set(titles)) == len(titles)


async def test_reaching_the_last_row_twice_at_once_lists_one_page(paths):
    # Pressing End both scrolls to the bottom and highlights the last row: two events that
    # each ask for the next page. They must list one page, not two (the second skipped ahead).
    seed_many(paths, PAGE_SIZE * 2 + 20)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        await wait_for(pilot, lambda: len(sidebar.items) == PAGE_SIZE, "the first page")
        await asyncio.gather(sidebar.list_more(), sidebar.list_more())
        titles = [item.session.title for item in sidebar.items]
        assert len(titles) == 2 * PAGE_SIZE
        assert titles[-1] == "Chat 20"
        assert [m.remaining for m in sidebar.query(MoreItem)] == [20]


async def test_the_list_rebuilt_while_browsing_keeps_the_highlighted_row(paths):
    # A chat reopening or an answer ending rebuilds the list; someone moving through it keeps
    # their row (and the row of older chats, which lists them), not the open chat's.
    seed_many(paths, PAGE_SIZE + 5)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        ended = lambda: {Job.LOAD, Job.OPEN_SESSION} <= {job.job for job in app.finished_jobs}  # noqa: E731
        await wait_for(pilot, ended, "the last chat to reopen")
        await wait_for(pilot, lambda: len(sidebar.items) == PAGE_SIZE, "the first page")
        list_view = sidebar.query_one(ListView)
        list_view.focus()
        await pilot.pause()
        list_view.index = 7
        await sidebar.reload(app.session_id)
        await sidebar.show_current(app.session_id)
        assert list_view.index == 7


async def test_an_answer_moves_its_chat_to_the_top_and_leaves_the_other_rows_alone(paths):
    # Every answer ends by updating the sidebar: only the open chat's row is replaced (the list
    # is not read and mounted again), and it goes to the top, highlighted.
    seed_many(paths, 4)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        await wait_for(
            pilot, lambda: app.session_id is not None and app.chat.prompt.has_focus, "the reopen"
        )
        oldest = sidebar.items[-1].session
        await open_chat(pilot, oldest.id)
        before = {item.session.id: item for item in sidebar.items}

        await send(pilot, "One more question")

        items = sidebar.items
        assert [item.session.id for item in items] == [oldest.id] + [
            sid for sid in before if sid != oldest.id
        ]
        assert all(item is before[item.session.id] for item in items[1:]), "rows rebuilt"
        assert items[0] is not before[oldest.id]
        assert items[0].session.updated_at > oldest.updated_at
        assert sidebar.highlighted_session() == oldest.id


async def test_a_new_chat_gets_its_row_without_rebuilding_the_list(paths):
    seed_many(paths, 3)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        await wait_for(
            pilot, lambda: app.session_id is not None and app.chat.prompt.has_focus, "the reopen"
        )
        before = list(sidebar.items)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.session_id is None, "the new chat")
        assert all(a is b for a, b in zip(sidebar.items, before, strict=True)), "rows rebuilt"

        await send(pilot, "A fresh start")

        items = sidebar.items
        assert [item.session.id for item in items] == [app.session_id] + [
            item.session.id for item in before
        ]
        assert all(a is b for a, b in zip(items[1:], before, strict=True)), "rows rebuilt"
        assert sidebar.highlighted_session() == app.session_id


async def test_each_chat_shows_when_it_was_used_and_its_whole_title_on_hover(paths):
    long_title = "A very long title about planning the summer trip to the Alps " * 2
    seed_many(paths, 1, title=long_title)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        await wait_for(pilot, lambda: len(sidebar.items) == 1, "the chat")
        # The list is rebuilt as the last chat reopens: look at the row that is there now.
        await wait_for(pilot, lambda: bool(sidebar.items), "the row")
        item = sidebar.items[0]
        assert item.tooltip == long_title
        line = "".join(segment.text for segment in item.render_line(0))
        assert line.rstrip().endswith(" " + when(item.session.updated_at))
        assert "A very long title" in line  # cut short to leave the date its room


def test_dates_read_as_people_say_them():
    now = datetime(2026, 12, 1, 15, 0)
    assert when(now - timedelta(minutes=5), now) == "14:55"
    assert when(now - timedelta(days=1), now) == "Yesterday"
    assert when(now - timedelta(days=3), now) == "Sat"
    assert when(datetime(2026, 11, 3, 9, 0), now) == "3 Nov"
    assert when(datetime(2025, 11, 3, 9, 0), now) == "3 Nov 2025"
