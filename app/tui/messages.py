"""Textual messages that carry the engine's news onto the UI thread.

The controller calls back on its engine thread; ``App.post_message`` is thread-safe, so the
callback only wraps each event in one of these and posts it. Widgets are touched only by the
handlers, on the UI thread.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from textual.message import Message

from llama_chat.tools import ToolCall


class EngineEvent(Message):
    """One event from the controller (app/events.py, SessionOpened or TurnStarted)."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class TurnDone(Message):
    """The engine finished a send/regenerate/edit job (whatever its outcome)."""

    def __init__(self, future: Future) -> None:
        super().__init__()
        self.future = future


class ApprovalRequested(Message):
    """The model asked to run a tool; ``answer`` unblocks the engine thread when set."""

    def __init__(self, call: ToolCall, answer: Future) -> None:
        super().__init__()
        self.call = call
        self.answer = answer
