"""Where the model's window of a long chat may start.

A chat that outgrows the context drops its oldest turns. Moving the window's start changes
every position after it, so the whole window is read again; the start therefore moves in
blocks of a good share of the context, leaving room for the following turns, which then reuse
the cached prefix (Conversation.fit_prompt picks the earliest start that fits).
"""

from __future__ import annotations

from collections.abc import Sequence


def window_starts(
    roles: Sequence[str], counts: Sequence[int], block: int, since: int = 0
) -> list[int]:
    """Where the window may start, earliest first: 0, then the first user message at least
    ``block`` tokens after the previous start, and so on; of those, the ones from the start
    that holds message ``since`` on (the window never moves back while the chat is open).

    Every start depends only on the messages before it, so the chain never changes as the chat
    grows or when it is reopened: the window start is kept with the chat itself, and it moves
    forward only in steps of at least ``block`` tokens. ``roles`` and ``counts`` give each
    message's role and tokens.
    """
    starts = [0]
    position = 0  # tokens of the messages before index i
    threshold = block
    for i, role in enumerate(roles):
        if i > 0 and role == "user" and position >= threshold:
            starts.append(i)
            threshold = position + block
        position += counts[i]
    floor = max(s for s in starts if s <= since)
    return [s for s in starts if s >= floor]
