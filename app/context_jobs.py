"""Engine-thread work on the open chat as it opens: its size for the context meter, and
reading it into the KV cache ahead of its next message.

Without them the meter showed only what a saved KV cache restored (0 for a chat without one)
or nothing at all until the chat's next answer, and that answer read the whole chat first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import mlx.core as mx

import mlx_model
from llama_chat.chat.conversation import ChatMessage, Conversation
from llama_chat.events import ContextCounted, Event, PrefillProgress
from llama_chat.settings import Settings


class ContextMeter:
    """ChatJobs' part for the meter (a mixin: it reads the open chat that ChatJobs owns)."""

    settings: Settings
    _model: mlx_model.Model | None
    _conversation: Conversation | None
    _session_id: int | None
    _emit: Callable[[Event], None]
    _make_conversation: Callable[[list[ChatMessage], str, str | None], Conversation]

    def count_context(self) -> None:
        """Tell the meter the open chat's size (nothing while no model is loaded). The new chat
        gets its conversation here, as its first message would make it."""
        if self._model is None:
            return
        if self._conversation is None and self._session_id is None:
            self._conversation = self._make_conversation([], self.settings.system_prompt, None)
        if self._conversation is None:
            return
        try:
            tokens = self._conversation.history_tokens()
        except ValueError:
            return  # a chat the template cannot render: its next answer says why, not the meter
        self._emit(ContextCounted(tokens, self.settings.context_limit))

    def read_chat(self, cancel: threading.Event) -> None:
        """Read the open chat into the KV cache before its next message is sent.

        For a chat opened without a saved cache (imported, or its cache evicted), which would
        otherwise be read whole when the user sends. Any other job stops it (``cancel``): what
        was read stays in the cache, and that job's own prefill goes on from there.
        """
        conversation = self._conversation
        if conversation is None or self._model is None:
            return
        if not any(m.role == "user" for m in conversation.messages):
            return
        if conversation.fit_prompt(cancel) is None:
            return
        ids = conversation.encode(conversation.window_start, add_generation_prompt=False)
        if conversation.cache.common_prefix(ids) >= len(ids) - 1:
            return  # a saved cache held it already

        def progress(done: int, total: int) -> None:
            self._emit(PrefillProgress(done, total))

        read = mlx_model.prefill(
            self._model, conversation.cache, ids, cancel=cancel, on_progress=progress
        )
        if read is not None:
            mx.eval(conversation.cache.state())
