"""The bridge from core events to Textual messages: complete, typed, in order."""

from __future__ import annotations

import threading
import typing
from pathlib import Path

from textual.message import Message

from llama_chat import events
from llama_chat.tui.bridge import MESSAGE_FOR, Core, EventBridge, message_for


class Collector:
    """Stands in for a message pump: what post_message was given, in order."""

    def __init__(self) -> None:
        self.posted: list[Message] = []

    def post_message(self, message: Message) -> bool:
        self.posted.append(message)
        return True


def test_every_core_event_kind_has_its_own_message_class():
    kinds = set(typing.get_args(events.Event))
    assert set(MESSAGE_FOR) == kinds
    assert len(set(MESSAGE_FOR.values())) == len(kinds), "one message class per event kind"
    for kind, message_class in MESSAGE_FOR.items():
        assert message_class.__annotations__["event"] in (kind, f"events.{kind.__name__}")


def test_a_message_carries_the_event_itself():
    event = events.JobFailed(events.Job.EXPORT, "Could not export the chat: disk full")
    message = message_for(event)
    assert isinstance(message, Core.JobFailed) and message.event is event


def test_events_before_attach_are_held_and_delivered_first_in_order():
    bridge = EventBridge()
    bridge.post(events.Notice("early"))
    bridge.post(events.ModelLoading("4bit", "demo"))
    target = Collector()
    bridge.attach(target)  # type: ignore[arg-type]
    bridge.post(events.ModelLoaded("4bit", Path("/m"), 0.1, 0.5))
    kinds = [type(m) for m in target.posted]
    assert kinds == [Core.Notice, Core.ModelLoading, Core.ModelLoaded]


def test_events_from_many_threads_keep_each_threads_order():
    bridge = EventBridge()
    target = Collector()
    bridge.attach(target)  # type: ignore[arg-type]

    def emit(name: str) -> None:
        for i in range(200):
            bridge.post(events.TextDelta(f"{name}{i}"))

    threads = [threading.Thread(target=emit, args=(n,)) for n in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in "ab":
        seen = [m.event.text for m in target.posted if m.event.text.startswith(name)]
        assert seen == [f"{name}{i}" for i in range(200)]


def test_nothing_is_posted_after_close():
    bridge = EventBridge()
    target = Collector()
    bridge.attach(target)  # type: ignore[arg-type]
    bridge.close()
    bridge.post(events.SessionsChanged())
    assert target.posted == []
