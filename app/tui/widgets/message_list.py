"""The scrolling list of messages of the open chat."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.message import Message
from textual.widget import Widget

from llama_chat.events import ToolCallRequested, ToolResultReady, TurnFinished
from llama_chat.status import MessageStatus
from llama_chat.store.sessions import StoredMessage
from llama_chat.tui.keys import MESSAGE_LIST_BINDINGS
from llama_chat.tui.widgets.branch_switcher import (
    BranchSwitcher,
    branch_target,
    fork_parent,
    place_switchers,
)
from llama_chat.tui.widgets.document_block import DocumentBlock
from llama_chat.tui.widgets.message import (
    AssistantMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
)
from llama_chat.tui.widgets.message_cursor import (
    CURSOR_ACTIONS,
    CodeTurn,
    copy_code_block,
    copy_message,
    message_kind,
    selectable,
)
from llama_chat.tui.widgets.message_pages import (
    FIRST_SCREEN_MESSAGES,
    OLDER_PAGE_MESSAGES,
    Documents,
    NewerNote,
    OlderNote,
    damage_notice,
    laid_out,
    page_widgets,
    settled,
)
from llama_chat.tui.widgets.message_text import message_source
from llama_chat.tui.widgets.place_keeper import PlaceKeeper


class MessageList(VerticalScroll):
    """Messages, oldest first. Anchored to the bottom while an answer streams, so it follows
    new text until the user scrolls up (Textual releases the anchor then).

    A saved chat can hold thousands of messages, and each rendered answer costs milliseconds of
    Markdown layout; so opening one mounts only its newest messages, and older ones are
    mounted a page at a time when the user scrolls to the top.
    """

    can_focus = True
    BINDINGS = [
        *MESSAGE_LIST_BINDINGS,
        # Restated, as the cursor's Up/Down replace them: the arrows scroll while it is off.
        Binding("up", "scroll_up", "Scroll Up", show=False),
        Binding("down", "scroll_down", "Scroll Down", show=False),
    ]

    class PageShown(Message):
        """A page of older or newer messages was mounted (its branch switchers are to place)."""

    @dataclass
    class SaveRequested(Message):
        """The user asked to save the selected message to a file (the screen asks where)."""

        text: str
        kind: str  # what the message is called: "message", "answer" or "tool message"

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
        self.documents: Documents = {}
        """The documents of the saved messages, read with them: mounting a page reads nothing
        (on this thread, a read would wait for the answer being written to the store)."""
        self._places = PlaceKeeper()  # the view's top message, kept in place as a page lands
        self.selected: Widget | None = None
        """The message under the keyboard cursor, which copy, save and branch keys act on; None
        while the cursor is off (they act on the newest answer)."""
        self.turn_ended = False
        """The running answer job already showed how it ended (an answer, an error, refused)."""
        self._code_turn = CodeTurn()

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._near_top, init=False)

    async def show_stored(self, messages: Iterable[StoredMessage], documents: Documents) -> None:
        """Replace everything with a saved chat's messages (the newest ones mounted now) and
        the documents they carry, by message id."""
        messages = list(messages)
        if (notice := damage_notice(messages)) is not None:
            self.notify(notice, severity="warning", timeout=15)
        await self._clear(documents)
        shown = [m for m in messages if m.role != "system"]
        self.older, newest = shown[:-FIRST_SCREEN_MESSAGES], shown[-FIRST_SCREEN_MESSAGES:]
        widgets = page_widgets(newest, documents)
        if self.older:
            widgets.insert(0, OlderNote(len(self.older)))
        if widgets:
            await self.mount_all(widgets)
        self.anchor()  # show the latest messages, also once the layout has settled
        self.call_after_refresh(self._fill_screen)

    async def _clear(self, documents: Documents) -> None:
        """Remove every message, for another chat or another part of it to be shown."""
        self.answer = None
        self.select(None)
        # A page of the chat shown before must not land in the next (or find its note gone).
        self.workers.cancel_group(self, "older")
        self.loading_older = False
        self.older, self.newer, self.documents = [], [], documents
        await self.remove_children()

    def _fill_screen(self, tries: int = 20) -> None:
        """Short messages may not fill the screen, and what cannot scroll cannot be scrolled
        up to: mount older pages until it can. Decided on the new messages' layout: until it is
        done the sizes are those of what was shown before (a longer chat, that scrolled)."""
        if tries and self.children and not self.children[-1].size.height:
            self.call_after_refresh(self._fill_screen, tries - 1)
            return
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
        try:
            notes = self.query_children(OlderNote)
            if not notes:
                return  # another chat was shown meanwhile
            note = notes.first()
            self.older, page = self.older[:-OLDER_PAGE_MESSAGES], self.older[-OLDER_PAGE_MESSAGES:]
            below = self.children[self.children.index(note) + 1 :]
            self._places.hold(below[0] if below else None)  # see arrange()
            await self.mount_all(page_widgets(page, self.documents), after=note)
            if self.older:
                note.count = len(self.older)
            else:
                await note.remove()
            self.post_message(self.PageShown())
            await settled(self)
        finally:
            self.loading_older = False
            self._places.release()
        self.call_after_refresh(self._fill_screen)

    async def show_newer(self) -> None:
        """Mount the next page of newer messages below the others (after a jump to the start)."""
        try:
            notes = self.query_children(NewerNote)
            if not notes:
                return
            note = notes.first()
            page, self.newer = self.newer[:OLDER_PAGE_MESSAGES], self.newer[OLDER_PAGE_MESSAGES:]
            await self.mount_all(page_widgets(page, self.documents), before=note)
            if self.newer:
                note.count = len(self.newer)
            else:
                await note.remove()
            self.post_message(self.PageShown())
        finally:
            self.loading_older = False

    async def show_start(self, messages: Iterable[StoredMessage], documents: Documents) -> None:
        """Jump to the start of a saved chat: its first page mounted, the rest below on demand.

        Mounting a long chat whole takes seconds (each answer is Markdown to lay out), so the
        first message is shown at once and newer pages come as the user scrolls down.
        """
        if not self.older:  # the whole chat is mounted already
            self.scroll_home(animate=False)
            return
        await self._clear(documents)
        shown = [m for m in messages if m.role != "system"]
        first, self.newer = shown[:OLDER_PAGE_MESSAGES], shown[OLDER_PAGE_MESSAGES:]
        widgets = page_widgets(first, documents)
        if self.newer:
            widgets.append(NewerNote(len(self.newer)))
        await self.mount_all(widgets)
        self.release_anchor()
        await laid_out(self)
        self.scroll_home(animate=False, immediate=True)

    # -- the keyboard cursor ------------------------------------------------------------------

    def selectable(self) -> list[Widget]:
        """The mounted messages the cursor can stop on, oldest first."""
        return selectable(self.children)

    @property
    def cursor_on(self) -> bool:  # the screen's focus: has_focus lags it until Focus is handled
        return self.selected is not None and self.screen.focused is self

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CURSOR_ACTIONS:
            return self.cursor_on
        return super().check_action(action, parameters)

    def enter_cursor(self) -> None:
        items = self.selectable()
        if not items:
            self.notify("There is no message to select yet.", severity="warning")
            return
        self.focus()
        self.select(items[-1])

    async def action_cursor_move(self, step: int) -> None:
        current = self.selected
        items = self.selectable()
        index = items.index(current) + step if current in items else len(items) - 1
        if index < 0 and await self.mount_older_page():
            items = self.selectable()  # the older page is mounted above: step onto it
            index = items.index(current) + step if current in items else 0
        if 0 <= index < len(items):
            self.select(items[index])

    def on_blur(self) -> None:
        if self.selected is not None:
            self.select(None)

    def action_copy_message(self) -> None:
        if self.selected is not None:
            copy_message(self.app, self.selected)

    def action_copy_code(self) -> None:
        if self.selected is not None:
            copy_code_block(self.app, self.selected, self._code_turn)

    def action_save_message(self) -> None:
        if self.selected is not None:
            text, kind = message_source(self.selected), message_kind(self.selected)
            self.post_message(self.SaveRequested(text, kind))

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
        """Mount the next older page now (the cursor went above the top); False: none."""
        if not self.older:
            return False
        if self.loading_older:  # a page is on its way already (scrolling started it)
            pages = [w for w in self.workers if w.group == "older" and w.node is self]
            await self.workers.wait_for_complete(pages)
            return True
        self.loading_older = True
        await self.show_older()
        return True

    def follow(self) -> None:
        """Stick to the bottom as content grows (until the user scrolls away)."""
        self.anchor()

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """Textual's arrangement of the messages, shown to the place keeper (place_keeper.py)."""
        arrangement = super().arrange(size, optimal)
        self._places.arranged(self, size, arrangement, scroll=not self.following)
        return arrangement

    @property
    def following(self) -> bool:
        """Whether the view sticks to the bottom (``follow``, and the user has not scrolled
        away since). Textual keeps this in the anchor's two flags and has no public face for it."""
        return self._anchored and not self._anchor_released

    # -- one answer as it is written --------------------------------------------------------------

    def begin_turn(self) -> None:
        self.answer = self.finished = None
        self.turn_ended = False
        self.follow()

    async def begin_answer(self, *sent: Widget) -> None:
        """Start a turn that answers: what was sent and the answer's box are mounted while the
        engine reads the prompt (the first token then only adds text)."""
        self.begin_turn()
        self.answer = AssistantMessage(status=MessageStatus.STREAMING)
        await self.mount_all([*sent, self.answer])

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
        written = bool(event.text or self.answer and self.answer.text)
        if not written and event.status == MessageStatus.COMPLETE:  # no empty box stays
            if self.answer is not None:
                await self.answer.remove()
            self.answer = None
        elif self.answer is None:
            self.answer = AssistantMessage()
            await self.mount(self.answer)
        if self.answer is not None:
            await self.answer.finish(event.text, event.status, event.error)
        self.finished, self.answer = self.answer, None
        self.turn_ended = True

    async def fail_answer(self, message: str) -> None:
        """The answer job raised: keep what streamed, marked as an error with the reason."""
        answer = self.answer or self.finished
        if answer is None:
            answer = AssistantMessage()
            await self.mount(answer)
        await answer.finish(answer.text, MessageStatus.ERROR, message)
        self.finished, self.answer = answer, None
        self.turn_ended = True

    def last_user(self) -> UserMessage | None:
        users = self.query_children(UserMessage)
        return users.last() if users else None

    def last_turn(self) -> UserMessage | DocumentBlock | None:
        """The newest thing the user sent: a typed message or an attached document."""
        turns = [w for w in self.children if isinstance(w, UserMessage | DocumentBlock)]
        return turns[-1] if turns else None

    async def remove_after(self, widget: Widget, *, inclusive: bool = False) -> None:
        """Drop ``widget``'s followers (and ``widget`` itself when ``inclusive``)."""
        children = list(self.children)
        start = children.index(widget) + (0 if inclusive else 1)
        doomed = children[start:]
        if self.selected in doomed:
            self.select(None)
        if doomed:
            await self.remove_children(doomed)

    # -- branches ---------------------------------------------------------------------------------

    def branch_target(self) -> int | None:
        return branch_target(list(self.query_children(BranchSwitcher)), self.selected)

    async def show_branch_switchers(self, positions: dict[int, tuple[int, int]]) -> None:
        await place_switchers(self, positions)  # "◀ i/n ▶" under messages that have siblings

    async def show_from_fork(
        self, messages: list[StoredMessage], selected_id: int, documents: Documents
    ) -> None:
        """Show another branch: replace what follows the fork (the first message of the branch,
        ``selected_id``); the whole chat when the fork is not on screen."""
        fork = [m.id for m in messages].index(selected_id)
        parent = fork_parent(list(self.children), messages, fork)
        if parent is None:
            await self.show_stored(messages, documents)
            return
        await self.remove_after(parent)
        self.documents = documents
        widgets = page_widgets(messages[fork:], documents)
        if widgets:
            await self.mount_all(widgets)
        self.anchor()
