"""Engine-thread work for continuing a cut-off answer (controller.continue_answer).

It works on the open chat that ChatJobs holds: the same conversation, store and events.
"""

from __future__ import annotations

import time

from llama_chat.chat.continuation import (
    check_room,
    continuable,
    continuation_ids,
    continue_answer,
)
from llama_chat.chat.conversation import ContextOverflowError
from llama_chat.chat.saved_answer import SavedAnswer
from llama_chat.chat_jobs import ChatJobs
from llama_chat.events import Event, Notice, TextDelta, TurnFinished, TurnStarted
from llama_chat.status import MessageStatus


class ContinueJobs:
    def __init__(self, jobs: ChatJobs) -> None:
        self.jobs = jobs

    def continue_answer(self) -> TurnFinished | None:
        """Continue the newest answer of the open chat, saving the joined text as it streams."""
        jobs = self.jobs
        conversation = jobs._conversation
        if not jobs._require_model() or conversation is None:
            return None
        if not continuable(conversation):
            jobs._emit(
                Notice("Only an answer cut off at the length limit can continue.", "warning")
            )
            return None
        ids = continuation_ids(conversation)
        try:
            check_room(conversation, ids)
        except ContextOverflowError as exc:
            jobs._emit(Notice(f"The answer cannot continue: {exc}.", "warning"))
            return None
        message = conversation.messages[-1]
        session_id = jobs._session_id
        user_id = next((m.id for m in reversed(conversation.messages) if m.role == "user"), None)
        jobs._emit(TurnStarted(session_id, user_id))
        saved = SavedAnswer(jobs.sessions, session_id, user_id)
        # The stored message is the one that goes on: updated in place, never added again.
        saved.message_id = message.id
        saved.parts = [message.content]
        saved.last_save = time.monotonic()

        def emit(event: Event) -> None:
            if isinstance(event, TextDelta):
                saved.append(event.text)
            jobs._emit(event)

        try:
            finished = continue_answer(conversation, emit, ids, cancel=jobs.cancel)
        except Exception:
            saved.finalise(MessageStatus.ERROR)  # keep what streamed; the job says what broke
            raise
        conversation.messages[-1].id = saved.finalise(finished.status)
        return finished
