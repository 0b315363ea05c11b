"""The fixed start of every new chat's prompt, read once and kept on disk.

Every prompt begins with the same tokens: the system turn (prompt, date) and, when tools are
offered, their descriptions. Instead of prefilling them for each new chat, their K/V are
computed once per model, quant level, K/V precision and those tokens, saved next to the chats'
KV caches (same checked files, same disk budget, least recently used dropped first) and loaded
into the cache of every new chat, which then prefills only its first message.
"""

from __future__ import annotations

import hashlib
import json
import logging

import mlx.core as mx

import mlx_model
from llama_chat.chat.conversation import Conversation
from llama_chat.store.kv_files import CacheSaveError, CacheStore

log = logging.getLogger(__name__)


def prefix_name(model_id: str, quant: str, kv_bits: int | None, token_ids: list[int]) -> str:
    """The name the prefix's file is kept under (one file per distinct prefix)."""
    payload = json.dumps([model_id, quant, kv_bits or 0, token_ids], separators=(",", ":"))
    return "prefix-" + hashlib.sha256(payload.encode()).hexdigest()[:24]


class PrefixCache:
    """Loads (or computes, then saves) the fixed start of a new chat into its KV cache."""

    def __init__(self, files: CacheStore) -> None:
        self.files = files

    def prime_new_chat(self, conversation: Conversation, model_id: str, quant: str) -> None:
        """Prime a chat about to answer its first message from an empty cache; others keep
        their own cache (a prefix there would only replace what they already share)."""
        if len(conversation.messages) == 1 and conversation.cache.length == 0:
            self.prime(conversation, model_id, quant)

    def prime(self, conversation: Conversation, model_id: str, quant: str) -> bool:
        """Fill the empty cache of ``conversation`` with its fixed start; True if it came from
        disk. A prefix that cannot be saved is only a lost speed-up: the chat goes on."""
        cache = conversation.cache
        if cache.length:
            raise ValueError("the prefix goes into an empty cache")
        ids = conversation.fixed_start()
        name = prefix_name(model_id, quant, cache.kv_bits, ids)
        saved = self.files.load_best(name, model_id, quant, ids, conversation.model)
        if saved is not None and saved.tokens == ids and saved.kv_bits == cache.kv_bits:
            conversation.cache = saved
            return True
        mlx_model.prefill(conversation.model, cache, ids)
        mx.eval(cache.state())
        try:
            self.files.save(name, {"model_id": model_id, "quant": quant}, cache)
        except CacheSaveError as exc:
            log.warning("the prompt prefix was not saved: %s", exc)
        return False
