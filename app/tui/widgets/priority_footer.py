"""A footer that shows Quit and Help first, so they stay visible however many keys the
focused widget adds and however narrow the terminal is."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer

FIRST_ACTIONS: tuple[str, ...] = (
    "quit",
    "help",
    "cursor_leave",
    "copy_message",
    "copy_code",
    "save_message",
    "continue_answer",
)
"""Actions shown before all others, in this order (the message cursor's only while it is on)."""


class PriorityFooter(Footer):
    def compose(self) -> ComposeResult:
        # The stock footer lists the focused widget's keys first and the app's (Quit) last, so
        # a narrow terminal cuts Quit off. Our bindings use no groups, so the keys are flat.
        keys = list(super().compose())

        def rank(widget: object) -> int:
            # Read the key widgets' public `action` attribute; their class is private to Textual.
            action = getattr(widget, "action", None)
            return FIRST_ACTIONS.index(action) if action in FIRST_ACTIONS else len(FIRST_ACTIONS)

        for key in keys:
            # Each key sets this class as it mounts, which restyles it a second time; set
            # before, it is already there then.
            key.set_class(self.compact, "-compact", update=False)
        yield from sorted(keys, key=rank)  # stable: the rest keep their order
