"""The one thread that runs every MLX call.

MLX streams belong to the thread that created them (mlx >= 0.31 fails with "no Stream in
current thread" otherwise), so loading, prefill, decoding, quant switches and cache saves all
run here, one job at a time, in submission order. Front ends never block on it: they submit a
job and get events back through a callback.

There is one such thread per process and it lives as long as the process: with MLX 0.32, a
thread that ran MLX work and then ended can abort the interpreter at exit ("terminate called
without an active exception"), so the thread is a daemon that is never stopped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_shared: EngineThread | None = None
_shared_lock = threading.Lock()


class EngineThread:
    def __init__(self, name: str = "llama-chat-engine"):
        self._waiting: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls) -> EngineThread:
        """The process's engine thread, started on first use."""
        global _shared
        with _shared_lock:
            if _shared is None:
                _shared = cls()
            return _shared

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._waiting.put((lambda: fn(*args, **kwargs), future))
        return future

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        while True:
            fn, future = self._waiting.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
