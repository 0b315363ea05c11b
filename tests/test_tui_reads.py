"""The screen never waits for the store: the saved chats' list and the pages of a long chat are
read in threads, while the engine may hold the store (one connection) for an answer's writes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from textual.widgets import Input

from llama_chat.events import Job
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.widgets.document_block import DocumentBlock
from llama_chat.tui.widgets.message_list import OlderNote
from llama_chat.tui.widgets.session_sidebar import PAGE_SIZE
from tests.tui_pilot import (
    SIZE,
    make_app,
    model_ready,
    open_and_settle,
    seed_chat,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio


def seed(paths, titles: list[str]) -> None:
    store = SessionStore.open(paths.sessions_db)
    for title in titles:
        info = store.create_session(
            title=title, system_prompt="", settings={}, model="demo", quant="4bit"
        )
        store.add_message(info.id, "user", "hello")
    store.close()


@contextmanager
def store_held(store: SessionStore) -> Iterator[list[bool]]:
    """The store held from another thread, as the engine holds it while it writes: a read
    from any thread waits. Released on leaving, or after 5 s (the yielded list then says so:
    a screen that waited for the store could not have left sooner)."""
    held, leave, timed_out = threading.Event(), threading.Event(), []

    def hold() -> None:
        with store._lock:  # what every write holds (SessionStore._transaction)
            held.set()
            timed_out.append(not leave.wait(timeout=5))

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    try:
        yield timed_out
    finally:
        leave.set()
        holder.join()


@contextmanager
def statements(store: SessionStore) -> Iterator[list[tuple[bool, str]]]:
    """Every SQL statement the store runs meanwhile: (whether on this thread, the screen's; the
    statement)."""
    seen: list[tuple[bool, str]] = []
    screen_thread = threading.get_ident()

    def trace(sql: str) -> None:
        seen.append((threading.get_ident() == screen_thread, sql))

    store._conn.set_trace_callback(trace)  # the store's one connection
    try:
        yield seen
    finally:
        store._conn.set_trace_callback(None)


def titles(app) -> list[str]:
    return [item.session.title for item in app.chat.sidebar.items]


async def test_typing_a_search_while_the_store_is_busy_keeps_the_screen_and_shows_the_latest(
    paths,
):
    seed(paths, ["Alpha notes", "Abacus rules", "Zebra facts"])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(titles(app)) == 3 and app.session_id, "the chats")
        await pilot.pause()
        app.chat.sidebar.show_search()
        search = app.chat.sidebar.query_one("#session-search", Input)
        with store_held(app.controller.sessions) as timed_out:
            await pilot.press("a")  # matches two chats, but its read waits for the store...
            await pilot.press("b")  # ...and "ab" replaces it before it is shown
            assert search.value == "ab"  # the keys were handled while the store was held
            assert sorted(titles(app)) == ["Abacus rules", "Alpha notes", "Zebra facts"]
        assert timed_out == [False], "the screen waited for the store"
        shown: list[list[str]] = []

        def latest_shown() -> bool:
            shown.append(titles(app))
            return titles(app) == ["Abacus rules"]

        await wait_for(pilot, latest_shown, "the hits of 'ab'")
        assert ["Alpha notes", "Abacus rules"] not in [sorted(t) for t in shown]
        assert app.errors() == []


async def test_the_chat_list_reads_the_store_off_the_screen_thread(paths):
    seed(paths, [f"Chat {i}" for i in range(PAGE_SIZE + 5)])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        await wait_for(pilot, lambda: len(titles(app)) == PAGE_SIZE, "the first page")
        await wait_for(pilot, lambda: app.chat.prompt.has_focus, "the last chat to reopen")
        with statements(app.controller.sessions) as seen:
            await sidebar.list_more()  # the next page
            assert len(titles(app)) == PAGE_SIZE + 5
            await send(pilot, "Hello")  # the answer's end moves its chat's row to the top
            assert titles(app)[0] == "Chat 54"
            sidebar.show_search()
            await pilot.press("c", "h")
            await wait_for(pilot, lambda: len(titles(app)) == PAGE_SIZE, "the search's hits")
        read_by_screen = [sql for on_screen_thread, sql in seen if on_screen_thread]
        assert [sql for sql in read_by_screen if "sessions" in sql] == []


async def test_a_failed_read_of_the_chat_list_is_one_line_and_the_app_goes_on(paths):
    seed(paths, ["Alpha notes"])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: titles(app) == ["Alpha notes"], "the chat")
        with sqlite3.connect(paths.sessions_db) as other:  # another program breaks the search
            other.execute("DROP TABLE sessions_fts")
        app.chat.sidebar.show_search()
        await pilot.press("a")
        await wait_for(pilot, lambda: app.errors(), "the error")
        [error] = app.errors()
        assert error.startswith("Could not read the saved chats: ")
        assert "\n" not in error and "sessions_fts" in error
        await pilot.press("ctrl+b")  # the app still answers
        assert not app.chat.sidebar.display


async def test_a_failed_read_of_the_chat_is_one_line_and_the_chat_stays_shown(paths):
    turns = [m for n in range(40) for m in (("user", f"Q{n}"), ("assistant", f"A{n}"))]
    chat = seed_chat(paths, "Long", turns)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_and_settle(pilot, chat)
        shown = list(app.chat.messages.children)
        with sqlite3.connect(paths.sessions_db) as other:  # another program breaks the store
            other.execute("DROP TABLE documents")
        await pilot.press("ctrl+home")  # the chat's start: read from the store
        await wait_for(pilot, lambda: app.errors(), "the error")
        [error] = app.errors()
        assert error.startswith("Could not read the chat: ")
        assert "\n" not in error and "documents" in error
        assert list(app.chat.messages.children) == shown
        await pilot.press(*"still here")  # the app goes on
        assert app.chat.prompt.text == "still here"


def seed_documents_chat(paths, turns: int) -> int:
    """A long chat whose every other question carries a document."""
    store = SessionStore.open(paths.sessions_db)
    info = store.create_session(
        title="Reports", system_prompt="", settings={}, model="demo", quant="4bit"
    )
    parent = None
    for n in range(turns):
        if n % 2:
            text = f"Report {n}: the walrus count was {n}."
            message, _ = store.add_document(
                info.id,
                text,
                parent_id=parent,
                name=f"report-{n}.txt",
                text=text,
                size_bytes=len(text),
                tokens=12,
            )
            parent = message.id
        else:
            parent = store.add_message(info.id, "user", f"Q{n}", parent_id=parent).id
        parent = store.add_message(info.id, "assistant", f"A{n}", parent_id=parent).id
    store.close()
    return info.id


async def test_pages_of_a_long_chat_mount_without_reading_its_documents_one_by_one(paths):
    chat = seed_documents_chat(paths, 120)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id == chat, "the chat to reopen")
        # The model's job shows the chat again once it has loaded: not during the pages.
        loaded = lambda: any(job.job == Job.LOAD for job in app.finished_jobs)  # noqa: E731
        await wait_for(pilot, loaded, "the model's job to end")
        messages = app.chat.messages
        await wait_for(pilot, lambda: widgets(app, DocumentBlock), "the newest documents")
        await wait_for(pilot, lambda: not messages.loading_older, "the screen to fill")
        with statements(app.controller.sessions) as seen:
            for _ in range(3):  # three pages of older messages, scrolling up
                shown = len(messages.children)
                messages.scroll_home(animate=False, immediate=True)
                await wait_for(pilot, lambda s=shown: len(messages.children) > s, "a page")
                await wait_for(pilot, lambda: not messages.loading_older, "the page to settle")
        assert messages.query_children(OlderNote)  # still more above: these were pages
        assert [sql for _, sql in seen if "documents" in sql] == []
        assert len(widgets(app, DocumentBlock)) > 12
        names = [block.document.name for block in widgets(app, DocumentBlock)]
        assert names[-1] == "report-119.txt" and len(set(names)) == len(names)

        with statements(app.controller.sessions) as seen:
            await pilot.press("ctrl+home")  # the chat read again, its start mounted
            await wait_for(
                pilot,
                lambda: widgets(app, DocumentBlock)[0].document.name == "report-1.txt",
                "the start of the chat",
            )
        assert len([sql for _, sql in seen if "documents" in sql]) == 1
        assert [sql for on_screen_thread, sql in seen if on_screen_thread] == []
