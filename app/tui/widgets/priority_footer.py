"""A footer that shows Quit and Help first, so they stay visible however many keys the
focused widget adds and however narrow the terminal is."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer
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
HOLD_AT_MOST_S = 1.0
"""How long ``hold`` may keep the keys as they were, if nothing releases them."""


class PriorityFooter(Footer):
    _held = False
    _missed = False
    _hold_timer: Timer | None = None

    def hold(self) -> None:
        """Keep the keys as they are shown until ``release`` (or a second at most). Rebuilding
        the footer is a mount and a layout of the screen; an answer starting changes its keys
        (Esc stops it) while the engine reads the prompt, and would delay its first text."""
        self._held = True
        if self._hold_timer is not None:
            self._hold_timer.stop()
        self._hold_timer = self.set_timer(HOLD_AT_MOST_S, self.release)

    def release(self) -> None:
        """Show the keys as they are now, if they changed while held."""
        self._held = False
        if self._missed and self.is_attached:
            self._missed = False
            # From this footer's own queue: the rebuild binds its keys to the widget running it.
            self.call_later(self.bindings_changed, self.screen)

    def bindings_changed(self, screen: Screen) -> None:
        if self._held:
            self._missed = True
            return
        super().bindings_changed(screen)

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
