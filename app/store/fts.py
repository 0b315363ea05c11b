"""Turning what a person types into a full-text (FTS5) query of the chats."""

from __future__ import annotations

import unicodedata


def fts_query(text: str) -> str | None:
    """User text -> an FTS5 query that cannot be a syntax error.

    Every whitespace-separated term becomes a quoted string (quotes doubled), so AND/OR/NEAR,
    parentheses, colons and stray quotes are plain text; each is a prefix match so results appear
    while typing. Terms with no letters or digits would be empty phrases and are dropped.
    Unassigned and private-use characters count as control here too (category C*).
    """
    # Control characters (NUL above all: it ends the string inside SQLite) become spaces.
    cleaned = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    terms = [t for t in cleaned.split() if any(ch.isalnum() for ch in t)]
    if not terms:
        return None
    return " ".join('"' + t.replace('"', '""') + '"*' for t in terms)
