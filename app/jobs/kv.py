"""The open chat's KV cache kept on disk between runs, and the fixed start every new chat reads.

Both are only a speed-up: the chat's messages are the truth, and a cache that cannot be read
or saved costs a longer prefill, nothing else.
"""

from __future__ import annotations

from pathlib import Path

from llama_chat.chat.conversation import Conversation
from llama_chat.chat.prefix_cache import PrefixCache
from llama_chat.store.kv_files import CacheStore


class ChatCaches:
    def __init__(self, folder: Path, budget_gb: float) -> None:
        self.files = CacheStore(folder, int(budget_gb * 1e9))
        self.prefixes = PrefixCache(self.files)

    def set_budget(self, budget_gb: float) -> None:
        self.files.budget_bytes = int(budget_gb * 1e9)

    def restore(
        self, conversation: Conversation, session_id: int, model_id: str, quant: str
    ) -> int:
        """Put the chat's saved KV cache into ``conversation``; returns the tokens it holds of
        the chat (0: none was saved, or none fits this model and chat)."""
        if not conversation.messages or not self.files.session_files(session_id):
            return 0  # no saved cache: skip encoding what may be thousands of messages
        try:
            ids = conversation.encode(add_generation_prompt=False)
        except ValueError:
            return 0
        cache = self.files.load_best(session_id, model_id, quant, ids, conversation.model)
        if cache is None:
            return 0
        conversation.cache = cache
        return cache.common_prefix(ids)

    def save(self, conversation: Conversation, session_id: int, model_id: str, quant: str) -> None:
        """Save the chat's KV cache (raises CacheSaveError); without a cache, nothing."""
        if conversation.cache is not None:
            self.files.save(session_id, {"model_id": model_id, "quant": quant}, conversation.cache)

    def delete(self, session_id: int) -> None:
        self.files.delete_session(session_id)
