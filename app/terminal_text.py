"""Text from chats, files and the model, made safe to print to a terminal.

A chat title or an answer may hold escape sequences (``ESC ] 52`` sets the clipboard, ``ESC [2J``
clears the screen). Everything the CLI prints of such text goes through `for_terminal`, which
drops the C0 and C1 control characters (and DEL) but keeps newlines and tabs. Standard output
may be a pipe that ends in a terminal, so this is done whatever the output is; ``export -o``
writes the file unchanged.
"""

from __future__ import annotations

import os
import sys

_CONTROLS = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x09, 0x0A)] + [0x7F, *range(0x80, 0xA0)]
)


def for_terminal(text: str) -> str:
    """``text`` without control characters other than newline and tab."""
    return text.translate(_CONTROLS)


class OutputError(Exception):
    """Standard output cannot take the text (closed, a full disk, /dev/full); one line."""


def write_out(text: str) -> None:
    """Write ``text`` to standard output and flush it; OutputError when that fails.

    A BrokenPipeError (the reader went away) is left to the caller, which ends quietly.
    """
    if sys.stdout is None:  # started with stdout closed (``>&-``)
        raise OutputError("standard output is closed: there is nowhere to print to")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        # The unwritten text stays buffered: point stdout at /dev/null so the interpreter's
        # own flush at exit does not fail again with a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None
