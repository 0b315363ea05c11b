"""Text the user, the model or a file chose, shown as it is: never parsed as Textual markup.

A string handed to a Label, a Static, a border title, a tooltip, a palette entry or a
notification is read as content markup: ``[/]notes.txt`` raises MarkupError while the screen
draws, and ``[@click=app.quit]x`` becomes an action. Document names, chat titles, tool calls,
paths and error messages go through `plain` instead.
"""

from __future__ import annotations

from textual.content import Content
from textual.fuzzy import Matcher


def plain(text: str) -> Content:
    """``text`` exactly as written: square brackets are characters, not markup."""
    return Content(text)


def plain_highlight(matcher: Matcher, text: str) -> Content:
    """``text`` as plain content with the letters ``matcher`` matched highlighted.

    `Matcher.highlight` parses its argument as markup, so a chat title could break the palette.
    """
    content = plain(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if not score:
        return content
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
