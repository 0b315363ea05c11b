"""Engine-thread work for the context meter: the open chat's size as soon as it opens.

Without it the meter showed only what a saved KV cache restored (0 for a chat without one) or
nothing at all, until the chat's next answer.
"""

from __future__ import annotations

from collections.abc import Callable

import mlx_model
from llama_chat.chat.conversation import ChatMessage, Conversation
from llama_chat.events import ContextCounted, Event
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
