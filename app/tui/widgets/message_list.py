"""The scrolling list of messages of the open chat."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from llama_chat.events import ToolCallRequested, ToolResultReady, TurnFinished
from llama_chat.status import MessageStatus
from llama_chat.store.sessions import StoredMessage
from llama_chat.tui.state import chat_app
from llama_chat.tui.widgets.document_block import DocumentBlock
from llama_chat.tui.widgets.message import (
    AssistantMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
)

FIRST_SCREEN_MESSAGES = 6
"""Saved messages mounted when a chat opens: about a screenful (each Markdown answer is a
tree of widgets, and styling them is what makes opening a chat slow)."""
OLDER_PAGE_MESSAGES = 24
"""Saved messages mounted above the others each time the user scrolls to the top."""


class MessageList(VerticalScroll):
    """Messages, oldest first. Anchored to the bottom while an answer streams, so it follows
    new text until the user scrolls up (Textual releases the anchor then).

    A saved chat can hold thousands of messages, and each rendered answer costs milliseconds of
    Markdown layout; so opening one mounts only its newest messages, and older ones are
    mounted a page at a time when the user scrolls to the top.
    """

    can_focus = True

    class PageShown(Message):
        """A page of older messages was mounted (parts that mark messages redo theirs)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.answer: AssistantMessage | None = None
        """The answer widget receiving text now (None between answers)."""
        self.finished: AssistantMessage | None = None
        """The answer this turn ended with, until the next turn starts."""
        self.older: list[StoredMessage] = []
        """Saved messages above the mounted ones, not mounted yet (oldest first)."""
        self.loading_older = False
        """A page of older messages is being mounted (scrolling to the top waits for it)."""
        self.newer: list[StoredMessage] = []
        """Saved messages below the mounted ones, not mounted yet (after a jump to the start)."""
        self._shown_at = 0
        """Counts the times everything was replaced; a page mounted for an earlier view stops."""
        self.selected: Widget | None = None
        """The message under the keyboard cursor, which copy, save and branch keys act on; None
        while the cursor is off (they act on the newest answer)."""

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._near_top, init=False)

    async def show_stored(self, messages: Iterable[StoredMessage]) -> None:
        """Replace everything with a saved chat's messages (the newest ones mounted now)."""
        self.answer = None
        self.select(None)
        # A page of the chat shown before must not land in this one (or find its note gone).
        self.workers.cancel_group(self, "older")
        self.loading_older = False
        messages = list(messages)
        damaged = [m for m in messages if m.damage]
        if damaged:  # read as far as possible; say which chat and message, once
            first = damaged[0]
            self.notify(
                f"Chat {first.session_id} has {len(damaged)} damaged message(s) in the saved "
                f"chats database, shown as far as they could be read (message {first.id}: "
                f"{first.damage[0]}).",
                severity="warning",
                timeout=15,
            )
        shown = [m for m in messages if m.role != "system"]
        self.older, newest = shown[:-FIRST_SCREEN_MESSAGES], shown[-FIRST_SCREEN_MESSAGES:]
        self.newer = []
        self._shown_at += 1
        await self.remove_children()
        widgets = [w for m in newest for w in self._widgets_for(m)]
        if self.older:
            widgets.insert(0, OlderNote(len(self.older)))
        if widgets:
            await self.mount_all(widgets)
        self.anchor()  # show the latest messages, also once the layout has settled
        self.call_after_refresh(self._fill_screen)

    def _fill_screen(self) -> None:
        """Short messages may not fill the screen, and what cannot scroll cannot be scrolled
        up to: mount older pages until it can."""
        self._near_top(self.scroll_y)

    def _near_top(self, scroll_y: float) -> None:
        # A screen ahead of the top, so that PgUp held walks back without waiting at the top.
        near_top = scroll_y <= max(1, self.scrollable_content_region.height)
        if self.older and near_top and not self.loading_older:
            self.loading_older = True
            self.run_worker(self.show_older, group="older", exclusive=True)
        near_bottom = scroll_y >= self.max_scroll_y - self.scrollable_content_region.height
        if self.newer and near_bottom and not self.loading_older:
            self.loading_older = True
            self.run_worker(self.show_newer, group="older", exclusive=True)

    async def show_older(self) -> None:
        """Mount the next page of older messages above the others, keeping the view in place."""
        shown_at = self._shown_at
        try:
            notes = self.query_children(OlderNote)
            if not notes:
                return  # another chat was shown meanwhile
            note = notes.first()
            page = self.older[-OLDER_PAGE_MESSAGES:]
            self.older = self.older[:-OLDER_PAGE_MESSAGES]
            height_before = self.virtual_size.height
            widgets = [w for m in page for w in self._widgets_for(m)]
            await self.mount_all(widgets, after=note)
            if self.older:
                note.count = len(self.older)
            else:
                await note.remove()
            self.post_message(self.PageShown())
            await self._settled()
            if shown_at != self._shown_at:
                return  # everything was replaced meanwhile: this page's view is gone
            # From where the view is now: it may have scrolled on while the page was laid out.
            grown = self.virtual_size.height - height_before
            self.scroll_to(y=self.scroll_y + grown, animate=False, immediate=True)
        finally:
            self.loading_older = False
        self.call_after_refresh(self._fill_screen)

    async def show_newer(self) -> None:
        """Mount the next page of newer messages below the others (after a jump to the start)."""
        try:
            notes = self.query_children(NewerNote)
            if not notes:
                return
            note = notes.first()
            page, self.newer = self.newer[:OLDER_PAGE_MESSAGES], self.newer[OLDER_PAGE_MESSAGES:]
            await self.mount_all([w for m in page for w in self._widgets_for(m)], before=note)
            if self.newer:
                note.count = len(self.newer)
            else:
                await note.remove()
            self.post_message(self.PageShown())
        finally:
            self.loading_older = False

    async def show_start(self, messages: Iterable[StoredMessage]) -> None:
        """Jump to the start of a saved chat: its first page mounted, the rest below on demand.

        Mounting a long chat whole takes seconds (each answer is Markdown to lay out), so the
        first message is shown at once and newer pages come as the user scrolls down.
        """
        if not self.older:  # the whole chat is mounted already
            self.scroll_home(animate=False)
            return
        self.answer = None
        self.select(None)
        self.workers.cancel_group(self, "older")
        self.loading_older = False
        shown = [m for m in messages if m.role != "system"]
        first, self.newer = shown[:OLDER_PAGE_MESSAGES], shown[OLDER_PAGE_MESSAGES:]
        self.older = []
        self._shown_at += 1
        await self.remove_children()
        widgets = [w for m in first for w in self._widgets_for(m)]
        if self.newer:
            widgets.append(NewerNote(len(self.newer)))
        await self.mount_all(widgets)
        self.release_anchor()
        await self._settled()
        self.scroll_home(animate=False, immediate=True)

    async def show_all(self) -> None:
        """Mount every older message (for jumping to the start of the chat)."""
        while self.older:
            await self.show_older()

    async def _settled(self) -> None:
        """Wait until the newly mounted widgets have been laid out (their heights are known)."""
        refreshed = asyncio.Event()
        self.call_after_refresh(refreshed.set)
        await refreshed.wait()

    # -- the keyboard cursor ------------------------------------------------------------------

    def selectable(self) -> list[Widget]:
        """The mounted messages the cursor can stop on, oldest first."""
        return [w for w in self.children if w.has_class("message")]

    def select(self, widget: Widget | None) -> None:
        """Put the cursor on ``widget`` (highlighted and scrolled into view); None: off."""
        if self.selected is not None:
            self.selected.remove_class("-selected")
        self.selected = widget
        if widget is not None:
            widget.add_class("-selected")
            self.release_anchor()  # else new layout would pull the view back to the bottom
            # A message taller than the view shows its start; others scroll in just enough.
            tall = widget.outer_size.height > self.scrollable_content_region.height
            self.scroll_to_widget(widget, animate=False, immediate=True, top=tall)
        self.refresh_bindings()  # the footer shows the cursor's keys exactly while it is on

    async def mount_older_page(self) -> bool:
        """Mount the next page of older messages now (the cursor went above the top);
        False when there is none."""
        if not self.older:
            return False
        if self.loading_older:  # a page is on its way already (scrolling started it)
            pages = [w for w in self.workers if w.group == "older" and w.node is self]
            await self.workers.wait_for_complete(pages)
            return True
        self.loading_older = True
        await self.show_older()
        return True

    def _widgets_for(self, message: StoredMessage) -> list[Widget]:
        # A user message that carries a document shows as the document's block.
        if message.role == "user":
            document = chat_app(self).controller.sessions.document_of_message(message.id)
            if document is not None:
                return [DocumentBlock(document)]
        return widgets_for(message)

    async def add(self, widget: Widget) -> None:
        await self.mount(widget)

    def follow(self) -> None:
        """Stick to the bottom as content grows (until the user scrolls away)."""
        self.anchor()

    # -- one answer as it is written --------------------------------------------------------------

    def begin_turn(self) -> None:
        self.answer = self.finished = None
        self.follow()

    async def append_answer(self, text: str) -> None:
        if self.answer is None:
            self.answer = AssistantMessage()
            await self.mount(self.answer)
        self.answer.append(text)

    async def show_tool_call(self, event: ToolCallRequested) -> None:
        if self.answer is not None:  # what streamed was the call itself: show it compactly
            await self.answer.remove()
            self.answer = None
        await self.mount(ToolCallMessage.from_call(event.call))

    async def show_tool_result(self, event: ToolResultReady) -> None:
        await self.mount(ToolResultMessage(event.result.content, approved=event.approved))

    async def finish_answer(self, event: TurnFinished) -> None:
        if self.answer is None and (event.text or event.status != MessageStatus.COMPLETE):
            self.answer = AssistantMessage()
            await self.mount(self.answer)
        if self.answer is not None:
            await self.answer.finish(event.text, event.status, event.error)
        self.finished, self.answer = self.answer, None

    async def fail_answer(self, message: str) -> None:
        """The answer job raised: keep what streamed, marked as an error with the reason."""
        answer = self.answer or self.finished
        if answer is None:
            answer = AssistantMessage()
            await self.mount(answer)
        await answer.finish(answer.text, MessageStatus.ERROR, message)
        self.finished, self.answer = answer, None

    def last_user(self) -> UserMessage | None:
        users = self.query_children(UserMessage)
        return users.last() if users else None

    def last_turn(self) -> UserMessage | DocumentBlock | None:
        """The newest thing the user sent: a typed message or an attached document."""
        turns = [w for w in self.children if isinstance(w, UserMessage | DocumentBlock)]
        return turns[-1] if turns else None

    def last_answer(self) -> AssistantMessage | None:
        answers = self.query_children(AssistantMessage)
        return answers.last() if answers else None

    async def remove_after(self, widget: Widget, *, inclusive: bool = False) -> None:
        """Drop ``widget``'s followers (and ``widget`` itself when ``inclusive``)."""
        children = list(self.children)
        start = children.index(widget) + (0 if inclusive else 1)
        doomed = children[start:]
        if self.selected in doomed:
            self.select(None)
        if doomed:
            await self.remove_children(doomed)


class OlderNote(Static):
    """Says that older messages are there, above, and how to see them."""

    DEFAULT_CSS = """
    OlderNote { color: $text-muted; text-align: center; width: 1fr; }
    """

    count: reactive[int] = reactive(0)
    """How many saved messages are above, not shown yet."""

    def __init__(self, count: int) -> None:
        super().__init__(classes="older-note")
        self.count = count

    def render(self) -> str:
        return f"↑ {self.count:,} earlier messages: scroll up to show them"


class NewerNote(Static):
    """Says that newer messages are there, below (after a jump to the start of the chat)."""

    DEFAULT_CSS = """
    NewerNote { color: $text-muted; text-align: center; width: 1fr; }
    """

    count: reactive[int] = reactive(0)
    """How many saved messages are below, not shown yet."""

    def __init__(self, count: int) -> None:
        super().__init__(classes="newer-note")
        self.count = count

    def render(self) -> str:
        return f"↓ {self.count:,} later messages: scroll down, or Ctrl+End for the newest"


def widgets_for(message: StoredMessage) -> list[Widget]:
    """The widgets that show one saved message (system prompts are not shown)."""
    if message.role == "user":
        return [UserMessage(message.content, message_id=message.id)]
    if message.role in ("ipython", "tool"):
        return [ToolResultMessage(message.content)]
    if message.role != "assistant":
        return []
    shown: list[Widget] = []
    for call in message.tool_calls or []:
        function = call.get("function", call)
        shown.append(ToolCallMessage(function.get("name", "?"), function.get("arguments", {})))
    if message.content or not message.tool_calls:
        shown.append(
            AssistantMessage(
                message.content, status=MessageStatus(message.status), message_id=message.id
            )
        )
    elif shown:
        shown[0].message_id = message.id  # the call stands for the message
    return shown
