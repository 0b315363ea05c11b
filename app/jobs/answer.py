"""One answer streamed into the store as it is written: new, continued, or a summary.

The open chat's owner (chat.py) hands every answer here through ``ChatJobs.stream_answer``, so
the events of an answer and what is saved of it are decided in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from llama_chat.chat.conversation import ChatMessage
from llama_chat.chat.saved_answer import SavedAnswer
from llama_chat.events import (
    Event,
    TextDelta,
    ToolCallRequested,
    ToolResultReady,
    TurnFinished,
    TurnStarted,
)
from llama_chat.status import MessageStatus
from llama_chat.store.sessions import SessionStore

Emit = Callable[[Event], None]
Write = Callable[[Emit], TurnFinished]
"""Writes the answer, emitting its events through the function it is given."""


def stream_into_store(
    store: SessionStore,
    session_id: int | None,
    emit: Emit,
    write: Write,
    *,
    parent_id: int | None,
    user_id: int | None,
    going_on: ChatMessage | None = None,
) -> TurnFinished:
    """Emit TurnStarted, run ``write`` saving what it emits, and end with its TurnFinished
    carrying the saved ids (``ChatJobs.stream_answer`` says more)."""
    emit(TurnStarted(session_id, user_id))
    if going_on is None:
        answer = SavedAnswer(store, session_id, parent_id)
    else:
        answer = SavedAnswer.going_on(store, session_id, parent_id, going_on.id, going_on.content)
    ended: list[TurnFinished] = []  # held until the answer is saved: then it has the ids

    def saving(event: Event) -> None:
        if isinstance(event, TurnFinished):
            ended.append(event)
            return
        # Shown first, then saved: the first text's save adds the answer's row, and that can
        # wait for the store (a read of the chat list) while the user waits for the text.
        emit(event)
        if isinstance(event, TextDelta):
            answer.append(event.text)
        elif isinstance(event, ToolCallRequested):
            answer.finish_tool_call(event.call)
        elif isinstance(event, ToolResultReady):
            answer.add_tool_result(event.result.content)

    def with_ids(finished: TurnFinished, answer_id: int | None) -> TurnFinished:
        return replace(finished, user_id=user_id, answer_id=answer_id, reply_id=answer.first_id)

    try:
        finished = write(saving)
    except Exception:
        saved = answer.finalise(MessageStatus.ERROR)  # keep what streamed; the job says why
        if ended:
            emit(with_ids(ended[-1], saved))
        raise
    finished = with_ids(finished, answer.finalise(finished.status))
    if ended:
        emit(finished)
    return finished
