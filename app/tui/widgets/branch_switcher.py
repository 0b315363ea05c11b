"""The "◀ 2/3 ▶" line under a message that has siblings (regenerated answers, edited questions).

The arrows are links to the chat screen's ``branch_at`` action, so a click shows the previous or
next branch; the keys do the same for the message under the cursor (message_list.py). Markup
takes no negative numbers, hence the direction by name.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from llama_chat.events import TurnFinished
from llama_chat.store.sessions import StoredMessage
from llama_chat.tui.widgets.message import AssistantMessage, ToolCallMessage, UserMessage


class BranchSwitcher(Static):
    """Which of a message's siblings is shown, under that message."""

    DEFAULT_CSS = """
    BranchSwitcher {
        width: 1fr;
        height: 1;
        margin: 0 4 1 0;
        text-align: right;
        color: $text-muted;
    }
    BranchSwitcher.-user {
        margin-right: 0;  /* a question's box reaches further right than an answer's */
    }
    """

    def __init__(self, message_id: int, index: int, count: int, *, user: bool = False) -> None:
        self.message_id = message_id
        self.index = index
        """0-based: which sibling is shown."""
        self.count = count
        super().__init__(self._content(), classes="-user" if user else "")

    def _content(self) -> Content:
        shown = f" {self.index + 1}/{self.count} "
        first, last = self.index == 0, self.index + 1 == self.count
        return Content.assemble(
            self._arrow("◀", "previous", not first), shown, self._arrow("▶", "next", not last)
        )

    def _arrow(self, arrow: str, direction: str, enabled: bool) -> Content:
        if not enabled:
            return Content.styled(arrow, "dim")
        action = f"screen.branch_at({self.message_id},'{direction}')"
        return Content.from_markup(f"[@click={action}]{arrow}[/]")


async def place_switchers(messages: Widget, positions: dict[int, tuple[int, int]]) -> None:
    """Put "◀ i/n ▶" under every message among ``messages``' children that has siblings (and
    nowhere else); ``positions``: message id → (index, count) of those that have.

    Switchers that are still right stay, so the chat does not jump while pages of older
    messages come in."""
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
            switcher = BranchSwitcher(widget.message_id, *positions[widget.message_id], user=user)
            await messages.mount(switcher, after=widget)


def learn_saved_ids(
    children: list[Widget],
    user: UserMessage | None,
    answer: AssistantMessage | None,
    finished: TurnFinished,
) -> None:
    """A live answer learns its saved ids from ``finished``, which switchers need: the first
    message after the question ``user`` (where a regenerated answer forks) and the
    ``answer``'s own. ``children``: the message list's widgets."""
    if answer is not None and answer.message_id is None:
        answer.message_id = finished.answer_id
    if user is None or user.message_id is None or user.message_id != finished.user_id:
        return
    following = children[children.index(user) + 1 :]
    first = next((w for w in following if not isinstance(w, BranchSwitcher)), None)
    if isinstance(first, AssistantMessage | ToolCallMessage) and first.message_id is None:
        first.message_id = finished.reply_id


def fork_parent(children: list[Widget], path: list[StoredMessage], fork: int) -> Widget | None:
    """The shown widget of the message before ``path[fork]`` (None: not shown, or no parent)."""
    if fork == 0:
        return None
    found = [w for w in children if getattr(w, "message_id", 0) == path[fork - 1].id]
    return found[0] if found else None


def branch_target(switchers: list[BranchSwitcher], selected: Widget | None) -> int | None:
    """Whose branch the keys switch: the message under the cursor if it has siblings, else
    the newest that has (None: no message has)."""
    selected_id = getattr(selected, "message_id", None)
    chosen = [s for s in switchers if s.message_id == selected_id]
    target = (chosen or switchers[-1:] or [None])[0]
    return target.message_id if target is not None else None
