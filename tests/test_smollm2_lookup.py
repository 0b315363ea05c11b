"""Prompt lookup on trained weights: SmolLM2 repeating a licence sentence gives the plain greedy
tokens in fewer forward passes (a random-weight model never copies; only a trained one shows it)."""

from __future__ import annotations

import mlx.core as mx
import pytest

import mlx_model
from mlx_model.lookup import ForwardCosts, LookupPolicy, LookupSteps
from mlx_model.sampling import Sampler, SamplingParams
from tests.test_smollm2_parity import licence_text

NEW_TOKENS = 20


@pytest.fixture(scope="module")
def model(smollm2_checkpoint):
    return mlx_model.load_model(smollm2_checkpoint, dtype=mx.float32)


@pytest.fixture(scope="module")
def prompt(smollm2_checkpoint) -> list[int]:
    """A chat asking to repeat a licence sentence: the answer copies the prompt."""
    from transformers import AutoTokenizer

    text = licence_text()
    start = text.index('"License" shall mean')
    sentence = " ".join(text[start : start + 200].split())
    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint)
    chat = [{"role": "user", "content": f"Repeat this text exactly:\n\n{sentence}"}]
    return tokenizer(
        tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    )["input_ids"]


def plain_greedy(model, cache, prompt: list[int]) -> list[int]:
    logits = mlx_model.prefill(model, cache, prompt)
    tokens: list[int] = []
    for _ in range(NEW_TOKENS):
        tokens.append(int(mx.argmax(logits, axis=-1).item()))
        logits = model.last_logits(mx.array([tokens[-1:]]), cache)
        cache.commit(tokens[-1:])
    return tokens


def top2_gap(model, ids: list[int]) -> float:
    last = model(mx.array([ids]))[0, -1].astype(mx.float32)
    top = mx.sort(last)[-2:]
    return float((top[1] - top[0]).item())


def test_greedy_lookup_gives_plain_tokens_in_fewer_forwards(model, prompt):
    cache = model.make_cache()
    plain = plain_greedy(model, cache, prompt)
    cache.trim_to(len(prompt) - 1)  # reuse the prompt's K/V; the last position is run again
    logits = model.last_logits(mx.array([prompt[-1:]]), cache)
    cache.commit(prompt[-1:])
    steps = LookupSteps(
        model, cache, Sampler(SamplingParams()), logits, prompt, max_tokens=NEW_TOKENS,
        policy=LookupPolicy(ForwardCosts(fixed=0.0)),  # always draft
    )  # fmt: skip
    fast = list(steps)
    if fast != plain:
        # Allowed only where the reference itself nearly tied: a multi-token forward adds in
        # another order, which may flip a near-tie.
        step = next(i for i, (a, b) in enumerate(zip(fast, plain, strict=True)) if a != b)
        assert top2_gap(model, [*prompt, *plain[:step]]) < 1e-3, f"lookup differs at {step}"
    assert len(fast) == NEW_TOKENS
    assert steps.forwards <= NEW_TOKENS / 2  # the copy is accepted several tokens at a time
