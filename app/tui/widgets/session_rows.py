"""The rows of the saved chats' list: one chat (its title, when it was used, a search hit), and
the row that lists older chats when it is reached."""

from __future__ import annotations

import re
from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import ListItem

from llama_chat.store.sessions import SessionInfo
from llama_chat.tui.plain import plain

# Control characters cannot appear in chat text, so they mark search hits unambiguously.
HIT_START, HIT_END = "\x02", "\x03"


class SessionItem(ListItem):
    """One saved chat: its title and when it was used; under a search, the words that matched.

    One widget that draws its lines, not a row of labels: the list holds fifty chats or more,
    and Textual lays out every widget on the screen again whenever anything changes size (a
    message mounted, an answer growing a line), so labels made the list most of that work.
    """

    COMPONENT_CLASSES = {"session-item--date", "session-item--snippet"}

    def __init__(self, session: SessionInfo, snippet: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.title = Text(session.title, no_wrap=True, overflow="ellipsis")
        """The title as shown: literal text (no console markup), a search hit marked."""
        if snippet and snippet.replace(HIT_START, "").replace(HIT_END, "") == session.title:
            # The title itself matched: mark the hit in it, not in a second row repeating it.
            self.title, snippet = highlighted(snippet), None
        self.snippet = snippet
        # A fixed height (one line, two with a hit), so that laying the list out measures none.
        self.set_class(bool(snippet), "-with-snippet")
        self.date = when(session.updated_at)
        self.tooltip = plain(session.title)  # the whole title, however narrow the sidebar

    def render(self) -> RenderableType:
        row = Table.grid(expand=True)
        row.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        row.add_column(no_wrap=True, justify="right")
        date_style = self.get_component_rich_style("session-item--date")
        row.add_row(self.title, Text(f" {self.date}", style=date_style))
        if not self.snippet:
            return row
        snippet = highlighted(self.snippet)
        snippet.stylize(self.get_component_rich_style("session-item--snippet"))
        return Group(row, snippet)


class MoreItem(ListItem):
    """The last row while older chats are not listed yet; reaching it lists the next page."""

    def __init__(self, remaining: int) -> None:
        super().__init__(classes="session-more")
        self.remaining = remaining

    def render(self) -> RenderableType:
        return Text(f"↓ {self.remaining:,} older chats")


def when(moment: datetime, now: datetime | None = None) -> str:
    """A chat's last use as people say it: "14:05", "Yesterday", "Mon", "3 Nov", "3 Nov 2025"."""
    now = now or datetime.now(moment.tzinfo)
    days = (now.date() - moment.date()).days
    if days <= 0:
        return moment.strftime("%H:%M")
    if days == 1:
        return "Yesterday"
    if days < 7:
        return moment.strftime("%a")
    if moment.year == now.year:
        return f"{moment.day} {moment.strftime('%b')}"
    return f"{moment.day} {moment.strftime('%b %Y')}"


def highlighted(snippet: str) -> Text:
    """A search snippet on one line, its hits (between HIT_START and HIT_END) marked."""
    text = Text(no_wrap=True, overflow="ellipsis")
    bold = False
    for part in snippet.replace(HIT_END, HIT_START).split(HIT_START):
        text.append(re.sub(r"\s+", " ", part), style="bold reverse" if bold else "")
        bold = not bold
    return text
