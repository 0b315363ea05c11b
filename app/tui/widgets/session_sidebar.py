"""Saved chats, most recent first, with search as you type."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Input, ListView
from textual.worker import (
    Worker,
    WorkerCancelled,
    WorkerFailed,
    WorkerState,
    get_current_worker,
)

from llama_chat.queries import ChatQueries
from llama_chat.store.sessions import NotFoundError, SessionInfo
from llama_chat.tui.widgets.session_rows import HIT_END, HIT_START, MoreItem, SessionItem, when

PAGE_SIZE = 50
"""Chats listed at a time; reaching the end of the list brings the next page."""
MIN_SCREEN_WIDTH = 90
"""Below this many columns the saved chats start hidden (Ctrl+B shows them)."""


class SearchBox(Input):
    """The search field: Down goes on into the results, as Enter does."""

    BINDINGS = [
        Binding("down", "results", "Results", id="sidebar.results", show=False),
    ]

    class ToResults(Message):
        pass

    def action_results(self) -> None:
        self.post_message(self.ToResults())


class SessionSidebar(Vertical):
    """The list of saved chats. Asks the chat screen to act through messages."""

    BINDINGS = [
        Binding("r", "rename", "Rename", id="sidebar.rename", tooltip="Rename this chat"),
        Binding("delete,d", "delete", "Delete", id="sidebar.delete", tooltip="Delete this chat"),
        Binding("e", "export", "Export", id="sidebar.export", tooltip="Export to Markdown or JSON"),
    ]

    @dataclass
    class Open(Message):
        session_id: int

    @dataclass
    class Rename(Message):
        session_id: int

    @dataclass
    class Delete(Message):
        session_id: int

    @dataclass
    class Export(Message):
        session_id: int

    class NewChat(Message):
        pass

    def __init__(self, store: ChatQueries, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.current_id: int | None = None
        self._listed = PAGE_SIZE
        """How many recent chats the list holds (grows a page at a time as the user reaches
        the end; a reload keeps it, so the list does not shrink under the user)."""
        self._rebuilding = asyncio.Lock()
        """One rebuild at a time: reaching the end both scrolls and highlights the last row, and
        two page loads running together would list a page twice and skip the next."""
        self._chosen = False
        """The user showed or hid the saved chats: resizing no longer decides for them."""

    def fit_screen(self, width: int) -> None:
        """Shown on a screen ``width`` columns wide, unless the user chose."""
        if not self._chosen:
            self.display = width >= MIN_SCREEN_WIDTH

    def show_search(self) -> None:
        """Show the chats (the user's choice) with the focus in their search."""
        self._chosen = True
        self.display = True
        self.query_one("#session-search").focus()

    def hide(self) -> None:
        """Hide the chats (the user's choice); the screen moves the focus on."""
        self._chosen = True
        self.display = False

    def compose(self) -> ComposeResult:
        yield Button("+ New chat", id="new-chat", compact=True)
        yield SearchBox(placeholder="Search chats", id="session-search")
        yield ListView(id="session-list")

    def on_mount(self) -> None:
        self._read_list()
        self.watch(self.query_one(ListView), "scroll_y", self._scrolled, init=False)

    @property
    def items(self) -> list[SessionItem]:
        return list(self.query_one(ListView).query_children(SessionItem))

    # Every read of the store runs in a thread worker: the store has one connection, which the
    # engine holds while it writes an answer, so a read here could freeze the screen until then.
    # The worker hands what it read to this thread (call_from_thread) to be shown, unless a newer
    # read of the same kind replaced it meanwhile (exclusive: the older one is cancelled).

    async def reload(self, current_id: int | None = None) -> None:
        """Rebuild the list from the store: search hits if a query is typed, else recent chats.
        Returns once it is shown, or replaced by a newer reload."""
        if current_id is not None:
            self.current_id = current_id
        await _finished(self._read_list())

    def _read_list(self) -> Worker[None]:
        query = self.query_one("#session-search", Input).value
        return self._list_worker(query, self._listed)

    @work(thread=True, group="chat-list", exclusive=True, exit_on_error=False)
    def _list_worker(self, query: str, listed: int) -> None:
        rows: list[tuple[SessionInfo, str | None]]
        if query.strip():
            rows, remaining = list(self.store.search(query, highlight=(HIT_START, HIT_END))), 0
        else:
            rows = [(s, None) for s in self.store.list_sessions(limit=listed)]
            remaining = max(0, self.store.count_sessions() - len(rows))
        self.app.call_from_thread(self._show_list, get_current_worker(), rows, remaining)

    async def _show_list(
        self, read: Worker[None], found: list[tuple[SessionInfo, str | None]], remaining: int
    ) -> None:
        async with self._rebuilding:
            if read.is_cancelled:
                return  # a newer read replaced it: a search typed on, a chat saved meanwhile
            list_view = self.query_one(ListView)
            # Someone browsing the list keeps their row (reaching "older chats" lists them
            # still); otherwise the open chat is highlighted.
            browsing = list_view.highlighted_child if list_view.has_focus else None
            await list_view.clear()
            await list_view.extend(SessionItem(s, snippet) for s, snippet in found)
            if remaining:
                await list_view.append(MoreItem(remaining))
            ids = [session.id for session, _ in found]
            if isinstance(browsing, MoreItem) and remaining:
                list_view.index = len(ids)
            elif isinstance(browsing, SessionItem) and browsing.session.id in ids:
                list_view.index = ids.index(browsing.session.id)
            elif ids:
                list_view.index = ids.index(self.current_id) if self.current_id in ids else 0

    async def show_current(self, session_id: int | None) -> None:
        """Highlight the open chat; the list is rebuilt only when that chat is not in it (opening
        a chat should not pay for re-laying out every row)."""
        self.current_id = session_id
        ids = [item.session.id for item in self.items]
        list_view = self.query_one(ListView)
        if session_id in ids or session_id is None:  # a new chat has no row until it is saved
            if not list_view.has_focus:  # someone browsing the list keeps their row
                list_view.index = ids.index(session_id) if session_id in ids else 0
        else:
            await self.reload(session_id)

    async def chat_changed(self, session_id: int) -> None:
        """The open chat got a message: its row alone goes to the top with its new title and
        time. Every answer ends here, and re-reading and re-mounting the whole list took
        longer than the rest of the turn's end together (a typed search runs again instead:
        the new message may match it)."""
        self.current_id = session_id
        if self.query_one("#session-search", Input).value.strip():
            await self.reload()
        else:
            await _finished(self._row_worker(session_id))

    @work(thread=True, group="chat-row", exclusive=True, exit_on_error=False)
    def _row_worker(self, session_id: int) -> None:
        try:
            session = self.store.get_session(session_id)
        except NotFoundError:  # deleted meanwhile: show the list as it is
            session = None
        self.app.call_from_thread(self._show_row, get_current_worker(), session_id, session)

    async def _show_row(
        self, read: Worker[None], session_id: int, session: SessionInfo | None
    ) -> None:
        if session is None:
            self._read_list()
            return
        async with self._rebuilding:
            if read.is_cancelled:
                return
            list_view = self.query_one(ListView)
            rows = list(list_view.children)
            old = next(
                (r for r in rows if isinstance(r, SessionItem) and r.session.id == session_id),
                None,
            )
            if old is not None and rows.index(old) == 0 and _same_row(old.session, session):
                old.session = session
                if not list_view.has_focus:  # someone browsing the list keeps their row
                    list_view.index = 0
                return
            browsing = list_view.highlighted_child if list_view.has_focus else None
            if old is None:
                self._listed += 1  # a new chat: the rows listed before all stay
            else:
                await old.remove()
            await list_view.insert(0, [SessionItem(session)])
            if browsing is not None and browsing is not old and browsing.parent is list_view:
                list_view.index = list_view.children.index(browsing)
            else:
                list_view.index = 0

    async def list_more(self) -> None:
        """Append the next page of older chats (keeps the highlight where it is). Reaching the
        last row once lists one page, however many events (scroll, highlight) report it."""
        reached = list(self.query_one(ListView).query_children(MoreItem))
        if reached:
            await _finished(self._page_worker(reached[0], self._listed))

    @work(thread=True, group="chat-page", exclusive=True, exit_on_error=False)
    def _page_worker(self, reached: MoreItem, offset: int) -> None:
        page = self.store.list_sessions(limit=PAGE_SIZE, offset=offset)
        total = self.store.count_sessions()
        self.app.call_from_thread(self._show_page, get_current_worker(), reached, page, total)

    async def _show_page(
        self, read: Worker[None], reached: MoreItem, page: list[SessionInfo], total: int
    ) -> None:
        async with self._rebuilding:
            list_view = self.query_one(ListView)
            if read.is_cancelled or reached not in list_view.children:
                return  # another event listed this page, or the list was rebuilt meanwhile
            index = list_view.index
            self._listed += PAGE_SIZE
            await reached.remove()
            await list_view.extend(SessionItem(s) for s in page)
            if remaining := max(0, total - self._listed):
                await list_view.append(MoreItem(remaining))
            list_view.index = index

    @on(Worker.StateChanged)
    def _read_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:  # one line; the list stays as it was
            detail = " ".join(str(event.worker.error).split())
            self.notify(f"Could not read the saved chats: {detail}", severity="error")

    async def _scrolled(self) -> None:
        list_view = self.query_one(ListView)
        if list_view.max_scroll_y and list_view.scroll_y >= list_view.max_scroll_y:
            await self.list_more()

    def highlighted_session(self) -> int | None:
        item = self.query_one(ListView).highlighted_child
        return item.session.id if isinstance(item, SessionItem) else None

    @on(Input.Changed, "#session-search")
    def _search(self) -> None:
        self._read_list()  # not waited for: the next key may replace it

    @on(Input.Submitted, "#session-search")
    @on(SearchBox.ToResults)
    def _to_results(self) -> None:
        list_view = self.query_one(ListView)
        list_view.focus()
        if list_view.index is None and list_view.children:
            list_view.index = 0

    @on(ListView.Selected)
    async def _open(self, event: ListView.Selected) -> None:
        if isinstance(event.item, SessionItem):
            self.post_message(self.Open(event.item.session.id))
        elif isinstance(event.item, MoreItem):
            await self.list_more()

    @on(ListView.Highlighted)
    async def _reached_the_end(self, event: ListView.Highlighted) -> None:
        if isinstance(event.item, MoreItem):
            await self.list_more()

    @on(Button.Pressed, "#new-chat")
    def _new(self) -> None:
        self.post_message(self.NewChat())

    def _act(self, message_type: type[Message]) -> None:
        session_id = self.highlighted_session()
        if session_id is None:
            self.notify("Select a chat first.", severity="warning")
            return
        self.post_message(message_type(session_id))

    def action_rename(self) -> None:
        self._act(self.Rename)

    def action_delete(self) -> None:
        self._act(self.Delete)

    def action_export(self) -> None:
        self._act(self.Export)


async def _finished(read: Worker[None]) -> None:
    """Wait for a read and the showing of what it read. A read replaced by a newer one, or
    failed (the sidebar says so, see _read_failed), just ends."""
    try:
        await read.wait()
    except (WorkerCancelled, WorkerFailed):
        pass


def _same_row(shown: SessionInfo, now: SessionInfo) -> bool:
    """Whether a row showing ``shown`` would look the same for ``now`` (the time shows minutes)."""
    return shown.title == now.title and when(shown.updated_at) == when(now.updated_at)
