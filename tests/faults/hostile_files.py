"""Hostile files for the fault tests: a named pipe nobody writes to, and a check that a reader
refuses it instead of waiting (without hanging the test run when it does wait)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def returns_promptly(fifo: Path, call: Callable[[], Any], seconds: float = 10.0) -> Any:
    """``call()``'s result or exception, raised here; fails the test if it still waits after
    ``seconds`` (it is then released by opening the pipe's other end, so the run goes on)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        for _ in range(3):  # a writer that closes at once: the reader sees end of file
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            worker.join(1.0)
        raise AssertionError(f"still waiting on the named pipe {fifo} after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def python_outcome(code: str, seconds: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter of this tree; fails the test if it is still running
    after ``seconds``. For readers that hold the interpreter while they wait (mx.load on a
    named pipe never lets another thread run), so a thread cannot watch them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds,
            env=env, cwd=ROOT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running after {seconds} s: {code}") from None
