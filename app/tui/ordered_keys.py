"""Keys handled strictly in the order they were typed, however fast they arrive.

Textual checks a key's priority bindings the moment the key reaches the app, but hands every
other key to the focused widget's own queue. A burst from a real terminal ("text" + Enter in
one read, a paste, a fast typist) therefore lets Enter (a priority binding) run before the
characters ahead of it reach the message box, and lets a Tab move the focus while characters
typed before it still wait in the old field. The message went out cut short; values landed in
the wrong field.

``OrderedKeysApp`` holds each key until the one before it is finished: handled by a priority
binding, or handed to the focused widget and then to every binding it bubbles up to. A
``KeyHandled`` marker follows the key down the same queues and bubbles up behind it, so when
the marker reaches the app every handler of the key has run. A marker is lost only when its
widget is removed first: then the next key goes on at once (checked every ``CHECK_S``), and
in any case after ``STALL_S`` (a slow machine only delays keys, it never reorders them).

An Enter means "send" or, inside a paste that came without bracketed paste, a line break: the
message box tells them apart by keys waiting behind it. On a loaded machine the terminal's
input thread can be held up halfway through posting one read's keys, and the app would reach
the Enter before the rest of the paste. So an Enter that came right behind the key before it
(machine speed, not a person's) with nothing behind it yet waits up to ``BURST_TAIL_S`` for the
rest of its burst. Only in a terminal: a test's pilot presses keys one at a time and waits.
"""

from __future__ import annotations

from collections import deque
from time import monotonic

from textual import events, on
from textual.app import App, ReturnType
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget

STALL_S = 5.0
"""A key whose handling has not finished after this long no longer holds back the next one."""
CHECK_S = 0.1
"""How often a key being handled is checked for a lost marker."""
BURST_GAP_S = 0.002
"""Keys parsed from one terminal read are microseconds apart; a person's are far more."""
BURST_TAIL_S = 0.1
"""How long an Enter at the end of what has arrived of a burst waits for the rest of it."""


class OrderedKeysApp(App[ReturnType]):
    """An App whose keys and pastes are handled one at a time, in the order typed."""

    class KeyHandled(Message):
        """Follows a key through the focused widget's queue and up to the app."""

        def __init__(self, key_number: int) -> None:
            super().__init__()
            self.key_number = key_number

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._typed: deque[events.Key | events.Paste] = deque()
        self._key_started_at: float | None = None
        """When the key being handled was handed on; None when no key is being handled."""
        self._stall_timer: Timer | None = None
        self._marker_at: Widget | None = None
        """Where the marker of the key being handled was posted."""
        self._key_number = 0
        """Counts the keys handed on; a late marker of a key released as stalled is ignored."""
        self._last_typed_at: float | None = None
        """When the last key handed on was read (its event's time)."""
        self._waited_for: events.Key | None = None
        """The Enter that waited for the rest of its burst (it waits once)."""

    @property
    def keys_waiting(self) -> int:
        """How many typed keys (or pastes) arrived and wait behind the one being handled.

        More keys right behind an Enter mean a burst, such as pasted text, is still arriving.
        """
        return len(self._typed)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            self._typed.append(event)
            await self._handle_next_key()
            return
        await super().on_event(event)

    async def _handle_next_key(self) -> None:
        while self._key_started_at is None and self._typed:
            event = self._typed[0]
            if self._ends_burst_so_far(event):
                self._waited_for = event
                self.set_timer(BURST_TAIL_S, self._handle_next_key)  # or the next key, sooner
                return
            self._typed.popleft()
            self._last_typed_at = event.time
            self._key_started_at = monotonic()
            self._key_number += 1
            await super().on_event(event)  # a priority binding, or on to the focused widget
            if self.screen_stack:
                # Into the same queue as the key, so the marker bubbles up behind it.
                self._marker_at = self.focused or self.screen
                self._marker_at.post_message(self.KeyHandled(self._key_number))
                self._watch_for_stall()
            else:
                self._key_started_at = None

    def _ends_burst_so_far(self, event: events.Key | events.Paste) -> bool:
        """An Enter read at machine speed behind the key before it, alone in the queue."""
        return (
            isinstance(event, events.Key)
            and event.key == "enter"
            and len(self._typed) == 1
            and event is not self._waited_for
            and not self.is_headless
            and self._last_typed_at is not None
            and event.time - self._last_typed_at < BURST_GAP_S
        )

    def _watch_for_stall(self) -> None:
        if self._stall_timer is None:
            self._stall_timer = self.set_interval(CHECK_S, self._release_stalled_key)
        else:
            self._stall_timer.resume()

    @on(KeyHandled)
    async def _key_handled(self, message: KeyHandled) -> None:
        message.stop()
        if message.key_number != self._key_number:
            return
        self._key_started_at = None
        await self._handle_next_key()
        if self._key_started_at is None and self._stall_timer is not None:
            self._stall_timer.pause()

    async def _release_stalled_key(self) -> None:
        started, marker_at = self._key_started_at, self._marker_at
        lost = marker_at is not None and not marker_at.is_attached
        if started is not None and (lost or monotonic() - started >= STALL_S):
            self._key_started_at = None
            await self._handle_next_key()
