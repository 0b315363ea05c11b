"""The real ``llama-chat`` in a real pseudo-terminal, read through a terminal emulator.

Pilot presses one key and waits for the app to settle before the next; a person's terminal
does not. Here the app runs as its own process on a pty (pexpect), keys arrive as the bytes a
terminal sends (a burst is one write), and what the user would see is read from a VT100
screen (pyte) fed with everything the app prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte

KEYS = {
    "enter": "\r",
    "tab": "\t",
    "shift+tab": "\x1b[Z",
    "escape": "\x1b",
    "ctrl+j": "\n",
    "ctrl+q": "\x11",
    "ctrl+s": "\x13",
    "ctrl+n": "\x0e",
    "ctrl+home": "\x1b[1;5H",
    "up": "\x1b[A",
    "down": "\x1b[B",
}
"""What a terminal (xterm-256color) sends for each key the tests press."""

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
"""Bracketed paste: the terminal wraps pasted text in these when the app asks it to."""


class Terminal:
    """One run of the app on a pty of ``size`` (columns, rows), with LLAMA_CHAT_HOME=home."""

    def __init__(
        self, home: Path, *args: str, size: tuple[int, int] = (80, 24), hooks: tuple[str, ...] = ()
    ) -> None:
        """``hooks``: modules of tests/ the app's process imports as it starts, to hold it at a
        point the test must control: "hold_load" (the model's load waits for ``release_load``),
        "slow_input" (the terminal's input thread pauses after each Enter it reads)."""
        self.home = home
        columns, rows = size
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)
        paths = [str(Path.cwd()), os.environ.get("PYTHONPATH", "")]
        self.load_gate = home / "load-may-go"
        if hooks:
            folder = home / "hooks"
            folder.mkdir(exist_ok=True)
            for name in hooks:
                shutil.copy(Path(__file__).with_name(f"{name}.py"), folder / f"{name}.py")
            # Python imports sitecustomize at start, from the first folder on its path.
            (folder / "sitecustomize.py").write_text("".join(f"import {n}\n" for n in hooks))
            paths.insert(0, str(folder))
        env = {
            **os.environ,
            "LLAMA_CHAT_HOME": str(home),
            "TERM": "xterm-256color",
            "COLUMNS": str(columns),
            "LINES": str(rows),
            "PYTHONPATH": os.pathsep.join(paths),
            "LLAMA_CHAT_LOAD_GATE": str(self.load_gate),
        }
        env.pop("TEXTUAL", None)
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "llama_chat", *args],
            env=env,
            dimensions=(rows, columns),
            cwd=str(home),
        )

    def release_load(self) -> None:
        """Let a held model load go on."""
        self.load_gate.touch()

    # -- reading the screen ---------------------------------------------------------------------

    def pump(self, seconds: float = 0.05) -> None:
        """Feed everything the app printed within ``seconds`` to the screen."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                data = self.child.read_nonblocking(
                    65536, timeout=max(0.0, deadline - time.monotonic())
                )
            except pexpect.TIMEOUT:
                return
            except pexpect.EOF:
                return
            self.stream.feed(data)
            if time.monotonic() >= deadline:
                return

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, condition: Callable[[], object], what: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{self.text}")
            if not self.child.isalive():
                self.pump(0.2)
                raise AssertionError(f"the app exited while waiting for {what}:\n{self.text}")
            self.pump(0.1)

    def wait_for_text(self, pattern: str, timeout: float = 90.0) -> None:
        self.wait_for(lambda: re.search(pattern, self.text), f"/{pattern}/", timeout)

    def wait_until_ready(self, timeout: float = 120.0) -> None:
        """Until the model is loaded (its label in the status bar, nothing loading)."""
        self.wait_for(
            lambda: "DEMO" in self.text and "loading" not in self.text, "the model", timeout
        )

    # -- typing -----------------------------------------------------------------------------------

    def send(self, *parts: str) -> None:
        """Send key names (see KEYS) and text in ONE write, as a burst from a terminal."""
        self.child.send("".join(KEYS.get(part, part) for part in parts))

    def paste(self, text: str) -> None:
        self.child.send(PASTE_START + text + PASTE_END)

    def resize(self, columns: int, rows: int) -> None:
        self.screen.resize(rows, columns)
        self.child.setwinsize(rows, columns)

    def quit(self, timeout: float = 30.0) -> int:
        """Ctrl+Q, and the exit status once the app has closed."""
        self.send("ctrl+q")
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.1)
        if self.child.isalive():
            self.child.terminate(force=True)
            raise AssertionError(f"Ctrl+Q did not close the app:\n{self.text}")
        self.child.close()
        return self.child.exitstatus

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    # -- what was saved --------------------------------------------------------------------------

    def user_messages(self) -> list[str]:
        """Every user message saved in the chats' database, oldest first."""
        db = self.home / "data" / "sessions.db"
        if not db.exists():
            return []
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            rows = connection.execute("select content from messages where role='user' order by id")
            return [content for (content,) in rows]

    def finished_answers(self) -> int:
        """Answers saved whole (not still streaming)."""
        db = self.home / "data" / "sessions.db"
        if not db.exists():
            return 0
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            query = "select count(*) from messages where role='assistant' and status!='streaming'"
            return connection.execute(query).fetchone()[0]

    def wait_for_answers(self, count: int) -> None:
        """Until ``count`` answers are saved and the app shows it is free for the next one."""
        self.wait_for(lambda: self.finished_answers() >= count, f"answer {count} saved")
        self.wait_for(lambda: "Stop" not in self.text, "the answer's end on screen")
        self.pump(0.3)

    def settings(self) -> dict:
        return json.loads((self.home / "config" / "settings.json").read_text())


def prepare_home(home: Path, demo_checkpoint: Path | None, **settings: object) -> Path:
    """A fresh LLAMA_CHAT_HOME holding ``settings`` and a copy of the built demo checkpoint
    (None: the app builds its own at start, as on a first run, which takes seconds)."""
    if demo_checkpoint is not None:
        shutil.copytree(demo_checkpoint, home / "cache" / demo_checkpoint.name)
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "settings.json").write_text(json.dumps(settings))
    return home
