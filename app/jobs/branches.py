"""Engine-thread work for branches: showing another sibling at a fork of the open chat.

The conversation then holds the new path, and its KV cache keeps only the tokens that path
shares with what the cache held (everything up to the fork): the next turn prefills the rest,
never the whole history again. The common prefix is the same one every turn uses
(``KVCache.common_prefix``), so this is the usual cache reuse, done at the switch.
"""

from __future__ import annotations

from llama_chat.chat.conversation import ChatMessage
from llama_chat.events import BranchSwitched, Notice
from llama_chat.jobs.chat import ChatJobs
from llama_chat.store.records import StoredMessage


class BranchJobs:
    """Runs on the engine thread, on the open chat of ``chat`` (its messages and cache)."""

    def __init__(self, chat: ChatJobs) -> None:
        self.chat = chat

    def switch_branch(self, message_id: int, step: int) -> bool:
        """Show the sibling ``step`` (-1 or +1) places from ``message_id``; False if none."""
        chat = self.chat
        session_id = chat.session_id
        if session_id is None:
            chat.emit(Notice("This chat is not saved yet: there are no branches.", "warning"))
            return False
        siblings = [m.id for m in chat.sessions.siblings(message_id)]
        target = siblings.index(message_id) + step
        if len(siblings) < 2 or not 0 <= target < len(siblings):
            where = "no other branch" if len(siblings) < 2 else "no branch further that way"
            chat.emit(Notice(f"This message has {where}.", "information"))
            return False
        path = chat.sessions.select_branch(siblings[target])
        kept = self._follow(path)
        documents = chat.sessions.documents_of_messages(m.id for m in path if m.role == "user")
        chat.emit(BranchSwitched(session_id, path, siblings[target], kept, documents))
        return True

    def _follow(self, path: list[StoredMessage]) -> int:
        """Put ``path`` in the conversation and roll its cache back to the fork; returns the
        tokens kept (0 without a model or a cache)."""
        conversation = self.chat.open_conversation
        if conversation is None:
            return 0  # no model yet: opening the chat later reads the stored choice
        old = conversation.messages
        new = [ChatMessage.from_stored(m) for m in path if m.role != "system"]
        fork = 0
        while fork < min(len(old), len(new)) and old[fork].id == new[fork].id:
            fork += 1
        conversation.messages = new
        # The window may start inside the branch that is gone; it can only move down to the fork.
        conversation.window_start = min(conversation.window_start, fork)
        cache = conversation.cache
        if cache is None or not new:
            return 0
        try:
            ids = conversation.encode(add_generation_prompt=False)
        except ValueError:
            return 0
        kept = cache.common_prefix(ids)
        cache.trim_to(kept)
        return kept
