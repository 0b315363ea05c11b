"""Fitting a long chat into the context: linear in its length, cancellable, same prompt."""

from __future__ import annotations

import random
import threading

import pytest

import mlx_model
from llama_chat.chat.conversation import (
    ChatMessage,
    ContextOverflowError,
    Conversation,
    GenerationSettings,
)
from llama_chat.chat.template import encode_prompt
from llama_chat.tools import default_registry

DATE = "23 Nov 2026"


@pytest.fixture(scope="module")
def engine(tiny_4bit):
    return mlx_model.load(tiny_4bit)


def history(turns: int, seed: int = 0) -> list[ChatMessage]:
    rng = random.Random(seed)
    words = "alpha beta gamma delta river stone cloud ember harbor lantern".split()
    messages = []
    for _ in range(turns):
        messages.append(ChatMessage("user", " ".join(rng.choices(words, k=rng.randint(1, 30)))))
        messages.append(
            ChatMessage("assistant", " ".join(rng.choices(words, k=rng.randint(1, 60))))
        )
    messages.append(ChatMessage("user", "and now?"))
    return messages


def conversation(engine, messages, *, context_limit, tools=None) -> Conversation:
    model, tokenizer = engine
    return Conversation(
        model,
        tokenizer,
        system_prompt="You are terse.",
        settings=GenerationSettings(max_tokens=32, context_limit=context_limit),
        date_string=DATE,
        messages=messages,
        tools=tools,
    )


def fit_by_reencoding(c: Conversation) -> tuple[list[int], int]:
    """The policy re-encoded by brute force, kept as the oracle: the window may start at 0 or at
    the first user message a block (a share of the context) past the previous start (positions
    measured by encoding the whole history before it); the earliest start that fits wins."""
    budget = c.settings.context_limit - c.settings.max_tokens
    last_user = c.last_user_index()
    system = [{"role": "system", "content": c.system_prompt}]

    def position(i: int) -> int:
        before = [m.to_template() for m in c.messages[:i]]
        whole = encode_prompt(c.tokenizer, system + before, add_generation_prompt=False)
        return len(whole) - len(encode_prompt(c.tokenizer, system, add_generation_prompt=False))

    starts, threshold = [0], int(c.settings.context_limit * c.settings.overflow_block)
    for i in range(1, last_user + 1):
        if c.messages[i].role == "user" and position(i) >= threshold:
            starts.append(i)
            threshold = position(i) + int(c.settings.context_limit * c.settings.overflow_block)
    for start in [*starts, last_user]:
        ids = c.encode(start)
        if len(ids) <= budget:
            return ids, start - c.window_start
    raise ContextOverflowError("overflow")


@pytest.mark.parametrize("limit", [300, 700, 2000, 100_000])
@pytest.mark.parametrize("with_tools", [False, True])
def test_fitted_prompt_equals_the_reencoding_oracle(engine, limit, with_tools, tmp_path):
    tools = default_registry([tmp_path]) if with_tools else None
    messages = history(40, seed=limit)
    ours = conversation(
        engine, list(messages), context_limit=limit + 2000 * with_tools, tools=tools
    )
    oracle = conversation(
        engine, list(messages), context_limit=limit + 2000 * with_tools, tools=tools
    )
    assert ours.fit_prompt() == fit_by_reencoding(oracle)


def test_fitting_encodes_each_message_about_once(engine):
    """The old loop re-encoded the whole window per dropped turn: quadratic in the chat's length."""
    model, tokenizer = engine
    messages = history(600)
    c = conversation(engine, messages, context_limit=1024)
    encoded_chars = 0
    real_encode = tokenizer.encode

    def counting_encode(text, **kwargs):
        nonlocal encoded_chars
        encoded_chars += len(text)
        return real_encode(text, **kwargs)

    tokenizer.encode = counting_encode
    try:
        ids, dropped = c.fit_prompt()
    finally:
        del tokenizer.encode
    history_chars = sum(len(m.content) for m in messages)
    assert dropped > 1000
    assert len(ids) <= 1024 - 32
    assert encoded_chars < 3 * history_chars


def test_fitting_stops_when_cancelled(engine):
    c = conversation(engine, history(300), context_limit=1024)
    cancel = threading.Event()
    cancel.set()
    assert c.fit_prompt(cancel) is None
    assert c.window_start == 0


def test_a_newest_message_too_long_for_the_context_is_refused(engine):
    messages = history(3) + [ChatMessage("user", "word " * 2000)]
    c = conversation(engine, messages, context_limit=512)
    with pytest.raises(ContextOverflowError, match="context limit of 512"):
        c.fit_prompt()
