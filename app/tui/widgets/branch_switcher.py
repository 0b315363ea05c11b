"""The "◀ 2/3 ▶" line under a message that has siblings (regenerated answers, edited questions).

The arrows are links to the chat screen's ``branch_at`` action, so a click shows the previous or
next branch; the keys do the same for the message under the cursor (chat_branches.py). Markup
takes no negative numbers, hence the direction by name.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


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
