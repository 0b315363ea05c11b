"""Engine-thread work for continuing a cut-off answer (controller.continue_answer).

It works on the open chat that ChatJobs owns, through its public face: the answer goes on in
the same saved message, streamed by ``ChatJobs.stream_answer`` like every answer.
"""

from __future__ import annotations

from llama_chat.chat.continuation import (
    check_room,
    continuable,
    continuation_ids,
    continue_answer,
)
from llama_chat.chat.conversation import ContextOverflowError
from llama_chat.events import Notice, TurnFinished
from llama_chat.jobs.chat import ChatJobs


class ContinueJobs:
    def __init__(self, chat: ChatJobs) -> None:
        self.chat = chat

    def continue_answer(self) -> TurnFinished | None:
        """Continue the newest answer of the open chat, saving the joined text as it streams."""
        chat = self.chat
        conversation = chat.conversation()
        if conversation is None:
            return None
        if not continuable(conversation):
            chat.emit(Notice("Only an answer cut off at the length limit can continue.", "warning"))
            return None
        ids = continuation_ids(conversation)
        try:
            check_room(conversation, ids)
        except ContextOverflowError as exc:
            chat.emit(Notice(f"The answer cannot continue: {exc}.", "warning"))
            return None
        message = conversation.messages[-1]
        user_id = next((m.id for m in reversed(conversation.messages) if m.role == "user"), None)
        finished = chat.stream_answer(
            lambda emit: continue_answer(conversation, emit, ids, cancel=chat.cancel),
            parent_id=user_id,
            user_id=user_id,
            going_on=message,  # the stored message goes on: updated in place, never added again
        )
        conversation.messages[-1].id = finished.answer_id
        return finished
