"""Holds up the terminal's input thread after each Enter it posts to the app.

Imported as the app starts, by tests/terminal.py's ``hooks=("slow_input",)``. The keys of one
terminal read then reach the app in parts, as they do when the input thread loses the CPU
halfway through a read on a loaded machine: the app may come to an Enter before the keys that
were read behind it.
"""

from __future__ import annotations

import time

from textual import events
from textual.drivers.linux_driver import LinuxDriver

PAUSE_S = 0.05

_post = LinuxDriver.process_message


def _post_then_pause(self: LinuxDriver, message: object) -> None:
    _post(self, message)
    if isinstance(message, events.Key) and message.key == "enter":
        time.sleep(PAUSE_S)


LinuxDriver.process_message = _post_then_pause
