"""Continuing an answer that was cut off at the answer length limit.

The prompt is the history with the partial answer left open: every earlier message as usual,
then the assistant header and the partial text, with no end-of-turn token, so the model writes
on from where it stopped. The new text joins the same message.

The KV cache normally still holds the tokens the model generated for the partial answer (all
but the last one, which was sampled but never fed back). Re-encoding the partial text could
split it into different tokens than the model chose, which would both change what the model
sees and throw those cached tokens away; so the cached tokens are reused as they are and only
the text they do not cover is encoded.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from llama_chat.chat.conversation import ContextOverflowError, Conversation, Emit
from llama_chat.chat.template import encode_prompt
from llama_chat.events import TurnFinished
from llama_chat.status import MessageStatus

MAX_TAIL_TRIMS = 8
"""Cached tokens dropped from the end, at most, looking for ones that spell the partial text
(a restored cache ends with the closed turn's end-of-turn token, not with the open answer)."""


class NothingToContinueError(ValueError):
    """The newest message is not an answer cut off at the length limit."""


def continuable(conversation: Conversation) -> bool:
    """Whether the newest message is an answer cut off at the length limit."""
    if not conversation.messages:
        return False
    last = conversation.messages[-1]
    return (
        last.role == "assistant"
        and last.status == MessageStatus.CUT_OFF
        and isinstance(last.content, str)
        and not last.tool_calls
    )


def continuation_ids(conversation: Conversation) -> list[int]:
    """The prompt that leaves the newest (partial) answer open for the model to go on."""
    if not continuable(conversation):
        raise NothingToContinueError("only an answer cut off at the length limit can continue")
    partial: str = conversation.messages[-1].content
    tokenizer = conversation.tokenizer
    head = encode_prompt(
        tokenizer,
        conversation.template_messages()[:-1],
        tools=conversation.tools.specs() if conversation.tools else None,
        add_generation_prompt=True,
        date_string=conversation.date_string,
    )
    cached = conversation.cache.tokens
    tail: list[int] = []
    if cached[: len(head)] == head:
        tail = cached[len(head) :]
        for _ in range(MAX_TAIL_TRIMS + 1):
            if partial.startswith(tokenizer.decode(tail)):
                break
            tail = tail[:-1]
        else:
            tail = []
    rest = partial[len(tokenizer.decode(tail)) :] if tail else partial
    return head + tail + (tokenizer.encode(rest) if rest else [])


def check_room(conversation: Conversation, ids: list[int]) -> None:
    """Raise ContextOverflowError when ``ids`` leave no room for ``max_tokens`` more."""
    limit, max_tokens = conversation.settings.context_limit, conversation.settings.max_tokens
    if len(ids) + max_tokens > limit:
        raise ContextOverflowError(
            f"it needs {len(ids)} prompt tokens plus {max_tokens} for the answer, more than "
            f"the context limit of {limit} tokens; raise the context limit or lower max tokens"
        )


def continue_answer(
    conversation: Conversation,
    emit: Emit,
    ids: list[int],
    *,
    cancel: threading.Event | None = None,
) -> TurnFinished:
    """Write on at the end of the cut-off newest answer from the prompt ``ids``
    (continuation_ids); the message then holds the joined text and the new status."""
    answer = conversation.messages[-1]
    finish, text, stats = conversation._stream(ids, emit, cancel or threading.Event())
    # A new message, not the old one edited: the conversation counts each message's tokens
    # once, keyed by the message object.
    joined = replace(
        answer, content=answer.content + text, status=MessageStatus.from_finish_reason(finish)
    )
    conversation.messages[-1] = joined
    return conversation._finish(emit, finish, joined.content, stats=stats)
