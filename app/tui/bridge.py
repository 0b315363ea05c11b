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
from typing import get_args

from textual.message import Message
from textual.message_pump import MessagePump

from llama_chat import events


class Core:
    """Namespace of the messages, one per core event kind (``Core.TextDelta`` carries an
    ``events.TextDelta`` as ``event``). Filled in below from ``events.Event``, the one list of
    event kinds, so a new event needs no second declaration here."""


def _message_class(event_class: type) -> type[Message]:
    name = event_class.__name__.removesuffix("Event")  # DownloadProgressEvent → DownloadProgress
    namespace = {
        "__annotations__": {"event": event_class},
        "__qualname__": f"Core.{name}",  # handler names as for a class declared in Core
        "__module__": __name__,
        "__doc__": f"The core event {event_class.__name__}, on its way to the UI.",
    }
    return dataclass(type(name, (Message,), namespace))


MESSAGE_FOR: dict[type, type[Message]] = {}
"""The Message class of each core event class."""
for _event_class in get_args(events.Event):
    MESSAGE_FOR[_event_class] = _message_class(_event_class)
    setattr(Core, MESSAGE_FOR[_event_class].__name__, MESSAGE_FOR[_event_class])


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
