"""An answer committed to the store while it streams, so a crash loses at most a second of it."""

from __future__ import annotations

import json
import time
from typing import Any

from llama_chat.status import MessageStatus
from llama_chat.store.sessions import SessionStore
from llama_chat.tools import ToolCall

SAVE_INTERVAL_S = 1.0


class SavedAnswer:
    """The answer as it streams, committed at least every SAVE_INTERVAL_S."""

    def __init__(self, store: SessionStore, session_id: int, parent_id: int | None):
        self.store = store
        self.session_id = session_id
        self.parent_id = parent_id
        self.message_id: int | None = None
        self.parts: list[str] = []
        self.last_save = 0.0
        self.first_id: int | None = None
        """The first message saved of the answer: itself, or the tool call it began with."""

    @classmethod
    def going_on(
        cls,
        store: SessionStore,
        session_id: int,
        parent_id: int | None,
        message_id: int | None,
        text: str,
    ) -> SavedAnswer:
        """An answer already saved as ``message_id`` with ``text``, that goes on: later text
        is joined to it, in the same message."""
        answer = cls(store, session_id, parent_id)
        answer.message_id = answer.first_id = message_id
        answer.parts = [text]
        answer.last_save = time.monotonic()
        return answer

    def _added(self, message_id: int) -> int:
        if self.first_id is None:
            self.first_id = message_id
        return message_id

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def append(self, delta: str) -> None:
        self.parts.append(delta)
        if self.message_id is None:
            self.message_id = self._added(
                self.store.add_message(
                    self.session_id,
                    "assistant",
                    self.text,
                    parent_id=self.parent_id,
                    status=MessageStatus.STREAMING,
                ).id
            )
            self.last_save = time.monotonic()
        elif time.monotonic() - self.last_save >= SAVE_INTERVAL_S:
            self.store.update_message(self.message_id, self.text, MessageStatus.STREAMING)
            self.last_save = time.monotonic()

    def finish_tool_call(self, call: ToolCall) -> None:
        """What streamed was the call itself: it becomes a tool-call message (content empty)."""
        tool_calls = [call.as_dict()]
        if self.message_id is not None:
            self.parent_id = self.store.update_message(
                self.message_id, "", MessageStatus.COMPLETE, tool_calls=tool_calls
            ).id
        else:
            self.parent_id = self._added(
                self.store.add_message(
                    self.session_id,
                    "assistant",
                    "",
                    parent_id=self.parent_id,
                    tool_calls=tool_calls,
                ).id
            )
        self.message_id = None
        self.parts = []

    def add_tool_result(self, content: Any) -> None:
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        self.parent_id = self.store.add_message(
            self.session_id, "ipython", text, parent_id=self.parent_id
        ).id

    def finalise(self, status: MessageStatus) -> int | None:
        """Commit the final text and status; returns the message id (None: nothing to save)."""
        if self.message_id is None:
            if not self.parts and status == MessageStatus.COMPLETE:
                return None
            self.message_id = self._added(
                self.store.add_message(
                    self.session_id, "assistant", self.text, parent_id=self.parent_id, status=status
                ).id
            )
            return self.message_id
        self.store.update_message(self.message_id, self.text, status)
        return self.message_id
