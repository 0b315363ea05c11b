"""The key tester (``llama-chat --keys``, or K in the help): each key pressed shows its name,
its character and the bindings it runs, so a key the terminal kept (it shows nothing) can be
told from a key with no binding."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest
from textual.widgets import Log

from llama_chat.tui.key_tester import KeyTesterApp

pytestmark = pytest.mark.anyio


async def test_each_key_shows_its_name_character_and_binding_ids():
    app = KeyTesterApp({"edit_last": "ctrl+y"})  # remapped as the keys setting would
    async with app.run_test(size=(100, 24)) as pilot:
        log = app.screen.query_one(Log)

        async def shown_for(key: str) -> str:
            before = len(log.lines)
            await pilot.press(key)
            return " ".join(line.strip() for line in log.lines[before:])

        assert (await shown_for("x")) == "x  'x'  → no binding"
        ctrl_k = await shown_for("ctrl+k")
        assert ctrl_k.startswith("ctrl+k  ") and "→ cursor.enter (ChatScreen)" in ctrl_k
        assert "a default Mac" not in ctrl_k
        assert "edit_last" not in await shown_for("ctrl+e")
        assert "edit_last (ChatScreen)" in await shown_for("ctrl+y")
        assert "branch.previous (ChatScreen)" in await shown_for("left")
        f1 = await shown_for("f1")
        assert "help (ChatScreen)" in f1 and "help.close (HelpScreen)" in f1
        assert "a default Mac keeps it" in f1 and "needs Fn" in f1
        assert "dialog.cancel (AttachScreen +" in await shown_for("escape")
        assert app.is_running and log.lines[-1] == "(Esc again to leave)"
        await pilot.press("escape")
    assert app.return_value == 0


async def test_a_key_between_two_escapes_keeps_the_tester_open():
    app = KeyTesterApp({})
    async with app.run_test() as pilot:
        await pilot.press("escape", "a", "escape")
        assert app.is_running
        await pilot.press("ctrl+q")
    assert app.return_value == 0


def test_llama_chat_keys_starts_shows_a_key_and_ctrl_q_leaves(tmp_path):
    env = {**os.environ, "LLAMA_CHAT_HOME": str(tmp_path / "home"), "TERM": "xterm-256color"}
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_chat", "--keys"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        close_fds=True,
    )
    os.close(child)
    seen = b""

    def read_until(text: bytes, timeout: float = 60.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while text not in seen:
            assert time.monotonic() < deadline, f"no {text!r} in {seen[-500:]!r}"
            if select.select([main], [], [], 0.1)[0]:
                try:
                    seen += os.read(main, 65536)
                except OSError:  # the program has gone: its side of the terminal closed
                    break
        assert text in seen, f"no {text!r} in {seen[-500:]!r}"

    try:
        read_until(b"Press keys")
        os.write(main, b"z")
        read_until(b"'z'")
        os.write(main, b"\x11")  # Ctrl+Q
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
