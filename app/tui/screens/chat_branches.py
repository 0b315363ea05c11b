"""The chat screen's part for branches: "◀ 2/3 ▶" under messages that have siblings, the keys
and clicks that show another one, and re-rendering the chat from the fork down."""

from __future__ import annotations

from textual import on
from textual.widget import Widget

from llama_chat.events import BranchSwitched
from llama_chat.tui.bridge import Core
from llama_chat.tui.screens.chat_base import ChatScreenBase
from llama_chat.tui.state import TURN_JOBS
from llama_chat.tui.widgets.branch_switcher import BranchSwitcher
from llama_chat.tui.widgets.message import AssistantMessage, ToolCallMessage, UserMessage
from llama_chat.tui.widgets.message_list import MessageList, widgets_for

STEPS = {"previous": -1, "next": +1}


class BranchHandlers(ChatScreenBase):
    def branch_keys_apply(self) -> bool:
        """The branch keys are Ctrl+Left/Right, which jump words in a text box: they stay with
        the message box while it has text, and with the saved chats' search."""
        focused = self.focused
        if focused is None:
            return True
        if self.sidebar in focused.ancestors_with_self:
            return False
        return not (focused is self.prompt and self.prompt.text)

    def action_branch(self, direction: str) -> None:
        """Keys: the message under the cursor if it has siblings, else the newest that has."""
        selected = self.messages.selected
        switchers = list(self.messages.query_children(BranchSwitcher))
        chosen = [s for s in switchers if s.message_id == getattr(selected, "message_id", None)]
        target = (chosen or switchers[-1:] or [None])[0]
        if target is None:
            self.notify("No message here has other branches.", severity="warning")
            return
        self.action_branch_at(target.message_id, direction)

    def action_branch_at(self, message_id: int, direction: str) -> None:
        if not self.refuse_while_busy():
            self.state.controller.switch_branch(message_id, STEPS[direction])

    async def show_branch_switchers(self, session_id: int | None) -> None:
        """Put "◀ i/n ▶" under every shown message that has siblings (and nowhere else).

        Switchers that are still right stay, so the chat does not jump while pages of older
        messages come in. ``session_id`` comes from the event: the app's own is updated after
        this screen's handlers have run."""
        messages = self.messages
        positions = {}
        if session_id is not None:
            positions = self.state.controller.sessions.branch_positions(session_id)
        wanted: list[tuple[Widget, BranchSwitcher | None]] = []
        stale: list[Widget] = []
        above: Widget | None = None
        for widget in list(messages.children):
            if isinstance(widget, BranchSwitcher):
                place = positions.get(widget.message_id)
                right = getattr(above, "message_id", None) == widget.message_id
                if right and place == (widget.index, widget.count) and wanted:
                    wanted[-1] = (wanted[-1][0], widget)
                else:
                    stale.append(widget)
            elif isinstance(widget, UserMessage | AssistantMessage | ToolCallMessage):
                if positions.get(widget.message_id) is not None:
                    wanted.append((widget, None))
            above = widget
        if stale:
            await messages.remove_children(stale)
        for widget, kept in wanted:
            if kept is None and widget.message_id is not None:
                user = isinstance(widget, UserMessage)
                switcher = BranchSwitcher(
                    widget.message_id, *positions[widget.message_id], user=user
                )
                await messages.mount(switcher, after=widget)

    # -- engine events ----------------------------------------------------------------------

    @on(Core.SessionOpened)
    async def _branches_on_open(self, message: Core.SessionOpened) -> None:
        session = message.event.session
        await self.show_branch_switchers(session.id if session is not None else None)

    @on(MessageList.PageShown)
    async def _branches_on_older_page(self) -> None:
        await self.show_branch_switchers(self.state.session_id)

    @on(Core.TurnFinished)
    def _answer_saved(self, message: Core.TurnFinished) -> None:
        """A live answer learns its saved ids, which switchers need: the first message after
        the question (where a regenerated answer forks) and the answer's own."""
        event = message.event
        answer = self.messages.finished
        if answer is not None and answer.message_id is None:
            answer.message_id = event.answer_id
        user = self.messages.last_user()
        if user is None or user.message_id is None or user.message_id != event.user_id:
            return
        children = list(self.messages.children)
        following = children[children.index(user) + 1 :]
        first = next((w for w in following if not isinstance(w, BranchSwitcher)), None)
        if isinstance(first, AssistantMessage | ToolCallMessage) and first.message_id is None:
            first.message_id = event.reply_id

    @on(Core.JobFinished)
    async def _branches_after_turn(self, message: Core.JobFinished) -> None:
        if message.event.job in TURN_JOBS:
            await self.show_branch_switchers(self.state.session_id)

    @on(Core.BranchSwitched)
    async def _branch_switched(self, message: Core.BranchSwitched) -> None:
        event = message.event
        await self._show_from_fork(event)
        self.status.set_context(event.cached_tokens, self.state.settings.context_limit)
        self.prompt.prompt_history = [m.content for m in event.messages if m.role == "user"]
        await self.show_branch_switchers(event.session_id)

    async def _show_from_fork(self, event: BranchSwitched) -> None:
        """Replace what follows the fork; the whole chat when the fork is not on screen."""
        ids = [m.id for m in event.messages]
        fork = ids.index(event.selected_id)
        messages = self.messages
        parent: Widget | None = None
        if fork > 0:
            found = [w for w in messages.children if getattr(w, "message_id", 0) == ids[fork - 1]]
            parent = found[0] if found else None
        if parent is None:
            await messages.show_stored(event.messages)
            return
        await messages.remove_after(parent)
        widgets = [w for m in event.messages[fork:] for w in widgets_for(m)]
        if widgets:
            await messages.mount_all(widgets)
        messages.anchor()
