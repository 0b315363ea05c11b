"""Engine-thread work on the open chat as it opens: its size for the context meter, and
reading it into the KV cache ahead of its next message.

Without them the meter showed only what a saved KV cache restored (0 for a chat without one)
or nothing at all until the chat's next answer, and that answer read the whole chat first.
"""

from __future__ import annotations

import threading
from typing import Protocol

import mlx.core as mx

import mlx_model
from llama_chat.chat.conversation import Conversation
from llama_chat.chat.memory import sync_memory
from llama_chat.events import ContextCounted, Event, PrefillProgress
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore

NEXT_MESSAGE_SHARE = 1 / 16
"""Share of the context a chat read ahead keeps free for its next message (512 tokens of 8k):
a message that fits there is answered from the cache as read, without moving the window."""


class OpenChat(Protocol):
    """What the meter reads of the open chat's owner (jobs/chat.py)."""

    settings: Settings
    sessions: SessionStore

    @property
    def has_model(self) -> bool: ...

    @property
    def session_id(self) -> int | None: ...

    @property
    def open_conversation(self) -> Conversation | None: ...

    def conversation(self) -> Conversation | None: ...

    def emit(self, event: Event) -> None: ...


class ContextMeter:
    """The open chat's size for the meter, and its read-ahead, on the state of ``chat``."""

    def __init__(self, chat: OpenChat) -> None:
        self.chat = chat

    def count_context(self) -> None:
        """Tell the meter the open chat's size (nothing while no model is loaded). The new chat
        gets its conversation here, as its first message would make it."""
        chat = self.chat
        if not chat.has_model:
            return
        conversation = chat.open_conversation
        if conversation is None and chat.session_id is None:
            conversation = chat.conversation()
        if conversation is None:
            return
        try:
            tokens = conversation.history_tokens()
        except ValueError:
            return  # a chat the template cannot render: its next answer says why, not the meter
        chat.emit(ContextCounted(tokens, chat.settings.context_limit))

    def read_chat(self, cancel: threading.Event) -> None:
        """Read the open chat into the KV cache before its next message is sent.

        For a chat opened without a saved cache (imported, or its cache evicted), which would
        otherwise be read whole when the user sends. Any other job stops it (``cancel``): what
        was read stays in the cache, and that job's own prefill goes on from there. A chat that
        nearly fills its window is read with room for its next message (the window moved on
        now, and with rolling memory its note written now), not read again when it is sent.
        """
        chat = self.chat
        conversation = chat.open_conversation
        if conversation is None or not chat.has_model:
            return
        if not any(m.role == "user" for m in conversation.messages):
            return
        sync_memory(conversation, chat.settings.rolling_memory, chat.sessions, chat.session_id)
        start = conversation.window_start
        if conversation.fit_prompt(cancel) is None:
            return
        ids = conversation.encode(add_generation_prompt=False)
        if conversation.cache.common_prefix(ids) >= len(ids) - 1:
            return  # a saved cache held it already
        # The chat is read whole anyway: read the window its next message will need, which
        # may start later than the one its history alone needs (it never moves back).
        room = int(conversation.settings.context_limit * NEXT_MESSAGE_SHARE)
        if conversation.fit_prompt(cancel, reserve=room) is None:
            return
        if conversation.memory is not None:  # the turns it drops go into the note now
            conversation.memory.catch_up(conversation, chat.emit, cancel)
        if conversation.window_start != start:  # by either fit
            self.count_context()  # the meter shows the window as read
        ids = conversation.encode(add_generation_prompt=False)

        def progress(done: int, total: int) -> None:
            chat.emit(PrefillProgress(done, total))

        read = mlx_model.prefill(
            conversation.model, conversation.cache, ids, cancel=cancel, on_progress=progress
        )
        if read is not None:
            mx.eval(conversation.cache.state())
