"""The demo writes only plain words from its list (and ends its turn): no special tokens, no
stray bytes, whatever the prompt or the sampling settings. The mask is in its weights; the
engine's generate loop knows nothing of the demo."""

from __future__ import annotations

import re

import pytest

import mlx_model
from llama_chat.models.demo import demo_output_ids
from mlx_model import SamplingParams


@pytest.fixture(scope="module")
def demo(demo_checkpoint):
    return mlx_model.load(demo_checkpoint)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_demo_writes_only_listed_words_even_at_temperature_2(demo, seed):
    model, tokenizer = demo
    prompt = tokenizer.encode("<|reserved_special_token_5|> Tell me about ünïcode 42!", bos=True)
    ids, text, _ = mlx_model.generate_all(
        model,
        tokenizer,
        prompt,
        sampling=SamplingParams(temperature=2.0, top_p=1.0, seed=seed),
        max_tokens=80,
    )
    allowed = demo_output_ids()
    assert ids and all(i in allowed for i in ids)
    assert "<|" not in text
    assert re.fullmatch(r"( [a-z]+)*", text), text
