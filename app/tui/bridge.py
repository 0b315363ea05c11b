"""Core events → typed Textual messages: the one place where the engine thread meets the UI.

The controller calls back on its engine thread. ``EventBridge.post`` wraps each core event in
its own Message class (``Core.TextDelta`` carries an ``events.TextDelta``) and posts it to one
target, the chat screen: ``post_message`` is thread-safe, and one queue keeps the events in the
order the engine emitted them (a job's ``JobFinished`` is always handled after its answer).
Handlers are ``@on(Core.…)`` methods where each event belongs; a message the chat screen does
not stop bubbles on to the app, which keeps the app-wide state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from textual.message import Message
from textual.message_pump import MessagePump

from llama_chat import events


class Core:
    """Namespace of the messages, one per core event kind; ``event`` is the core event."""

    @dataclass
    class ModelLoading(Message):
        event: events.ModelLoading

    @dataclass
    class DownloadProgress(Message):
        event: events.DownloadProgressEvent

    @dataclass
    class ModelLoaded(Message):
        event: events.ModelLoaded

    @dataclass
    class ModelLoadFailed(Message):
        event: events.ModelLoadFailed

    @dataclass
    class Notice(Message):
        event: events.Notice

    @dataclass
    class PrefillProgress(Message):
        event: events.PrefillProgress

    @dataclass
    class TextDelta(Message):
        event: events.TextDelta

    @dataclass
    class ContextTrimmed(Message):
        event: events.ContextTrimmed

    @dataclass
    class ContextCounted(Message):
        event: events.ContextCounted

    @dataclass
    class ToolCallRequested(Message):
        event: events.ToolCallRequested

    @dataclass
    class ToolResultReady(Message):
        event: events.ToolResultReady

    @dataclass
    class SummaryProgress(Message):
        event: events.SummaryProgress

    @dataclass
    class TurnStats(Message):
        event: events.TurnStats

    @dataclass
    class TurnFinished(Message):
        event: events.TurnFinished

    @dataclass
    class SessionOpened(Message):
        event: events.SessionOpened

    @dataclass
    class TurnStarted(Message):
        event: events.TurnStarted

    @dataclass
    class MessageRefused(Message):
        event: events.MessageRefused

    @dataclass
    class SessionsChanged(Message):
        event: events.SessionsChanged

    @dataclass
    class Exported(Message):
        event: events.Exported

    @dataclass
    class JobFailed(Message):
        event: events.JobFailed

    @dataclass
    class JobFinished(Message):
        event: events.JobFinished

    @dataclass
    class DocumentProgress(Message):
        event: events.DocumentProgress

    @dataclass
    class DocumentAdded(Message):
        event: events.DocumentAdded

    @dataclass
    class SummaryDone(Message):
        event: events.SummaryDone

    @dataclass
    class BranchSwitched(Message):
        event: events.BranchSwitched


MESSAGE_FOR: dict[type, type[Message]] = {
    events.ModelLoading: Core.ModelLoading,
    events.DownloadProgressEvent: Core.DownloadProgress,
    events.ModelLoaded: Core.ModelLoaded,
    events.ModelLoadFailed: Core.ModelLoadFailed,
    events.Notice: Core.Notice,
    events.PrefillProgress: Core.PrefillProgress,
    events.TextDelta: Core.TextDelta,
    events.ContextTrimmed: Core.ContextTrimmed,
    events.ToolCallRequested: Core.ToolCallRequested,
    events.ToolResultReady: Core.ToolResultReady,
    events.SummaryProgress: Core.SummaryProgress,
    events.TurnStats: Core.TurnStats,
    events.TurnFinished: Core.TurnFinished,
    events.SessionOpened: Core.SessionOpened,
    events.ContextCounted: Core.ContextCounted,
    events.TurnStarted: Core.TurnStarted,
    events.MessageRefused: Core.MessageRefused,
    events.SessionsChanged: Core.SessionsChanged,
    events.Exported: Core.Exported,
    events.JobFailed: Core.JobFailed,
    events.JobFinished: Core.JobFinished,
    events.DocumentProgress: Core.DocumentProgress,
    events.DocumentAdded: Core.DocumentAdded,
    events.SummaryDone: Core.SummaryDone,
    events.BranchSwitched: Core.BranchSwitched,
}
"""The Message class of each core event class."""


def message_for(event: events.Event) -> Message:
    """``event`` wrapped in its own Message class."""
    try:
        message_class = MESSAGE_FOR[type(event)]
    except KeyError:
        raise TypeError(f"No TUI message for core event {type(event).__name__}") from None
    return message_class(event)  # type: ignore[call-arg]


class EventBridge:
    """Posts core events, from any thread, to one message pump, in the order they came.

    Events that come before the target is attached (the controller may speak while the app is
    starting) are held and posted first when it is.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: MessagePump | None = None
        self._held: list[Message] = []
        self._closed = False

    def post(self, event: events.Event) -> None:
        """The controller's ``on_event``: runs on the engine thread (or the UI thread)."""
        message = message_for(event)
        with self._lock:
            if self._closed:
                return
            if self._target is None:
                self._held.append(message)
            else:
                self._target.post_message(message)

    def attach(self, target: MessagePump) -> None:
        """Start delivering to ``target`` (a mounted node); call on the UI thread."""
        with self._lock:
            self._target = target
            held, self._held = self._held, []
            for message in held:
                target.post_message(message)

    def close(self) -> None:
        """Drop every later event: the app is closing and its screens are going away."""
        with self._lock:
            self._closed = True
            self._held.clear()
