"""Which streaming answers are still being written, across processes.

An answer is saved as 'streaming' while it is generated, so one cut off by a crash can be marked
'interrupted' at the next start. But another process (a second window, ``llama-chat export``)
may open the database while an app is mid-answer: that answer must be left alone. So the writer
holds an advisory lock (``flock``) on ``<database>.writers/<message id>`` while the answer
streams. The kernel drops the lock when the writer exits, however it exits, and message ids are
never reused (AUTOINCREMENT), so an unlocked or missing file means the writer is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class StreamingWriters:
    """The locks this process holds for its streaming answers, and a check on other writers'."""

    def __init__(self, database: Path) -> None:
        self.folder = database.with_name(database.name + ".writers")
        self._held: dict[int, int] = {}  # message id -> the locked file's descriptor

    def hold(self, message_id: int) -> None:
        """Mark ``message_id`` as being written by this process (before its row is committed,
        so no other process sees the row without the lock)."""
        if message_id in self._held:
            return
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(self.folder / str(message_id), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            # No lock (a read-only folder): the answer is still saved; another process opening
            # the database meanwhile would take it for cut off, as before these locks.
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        self._held[message_id] = fd

    def release(self, message_id: int) -> None:
        """The answer is finished (its final status committed): drop the lock and its file."""
        fd = self._held.pop(message_id, None)
        if fd is None:
            return
        with contextlib.suppress(OSError):
            (self.folder / str(message_id)).unlink()
        os.close(fd)

    def release_all(self) -> None:
        for message_id in list(self._held):
            self.release(message_id)

    def is_live(self, message_id: int) -> bool:
        """True while some process, this one included, holds the answer's lock."""
        if message_id in self._held:
            return True
        path = self.folder / str(message_id)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False  # never locked (an older llama-chat), or released
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()  # the writer is gone: its file is stale
        return False
