"""Trained weights: SmolLM2-135M-Instruct through our decoder against transformers and mlx-lm.

Random-weight checkpoints agree with their peers trivially well (small logits, flat softmax);
a trained model has logits up to ±44 and a peaked distribution, so its perplexity on real text
is a sharper check of the numerics and of the quantizers. Text: the Apache-2.0 licence that
transformers ships in its dist-info, tokenized by SmolLM2's own tokenizer (ids, not text, are
fed to both models: the tokenizer is not Llama 3's). Token counts are kept small so each test
stays near 30 s on a slow CPU, and quantized models run in float32 (MLX's CPU backend is many
times slower in bfloat16).
"""

from __future__ import annotations

import glob
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
from mlx_model.quantize import quantize_model

N_TOKENS = 48
GREEDY_TOKENS = 24


def licence_ids(checkpoint: Path, n: int) -> list[int]:
    import transformers
    from transformers import AutoTokenizer

    site = Path(transformers.__file__).parent.parent
    found = glob.glob(str(site / "transformers-*.dist-info" / "**" / "LICENSE*"), recursive=True)
    assert found, f"no LICENSE in transformers' dist-info under {site}"
    ids = AutoTokenizer.from_pretrained(checkpoint)(Path(found[0]).read_text())["input_ids"]
    return ids[:n]


def perplexity(logits: np.ndarray, ids: list[int]) -> float:
    logits = logits[:-1].astype(np.float64)
    top = logits.max(-1, keepdims=True)
    logprobs = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
    return float(np.exp(-logprobs[np.arange(len(ids) - 1), ids[1:]].mean()))


def our_logits(model: mlx_model.Model, ids: list[int]) -> np.ndarray:
    return np.array(model(mx.array([ids])).astype(mx.float32))[0]


@pytest.fixture(scope="module")
def ids(smollm2_checkpoint) -> list[int]:
    return licence_ids(smollm2_checkpoint, N_TOKENS)


@pytest.fixture(scope="module")
def hf_model(smollm2_checkpoint):
    import torch
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(smollm2_checkpoint, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def hf_logits(hf_model, ids) -> np.ndarray:
    import torch

    with torch.no_grad():
        return hf_model(torch.tensor([ids])).logits[0].numpy()


@pytest.fixture(scope="module")
def f32_logits(smollm2_checkpoint, ids) -> np.ndarray:
    model = mlx_model.load_model(smollm2_checkpoint, dtype=mx.float32)
    return our_logits(model, ids)


def test_float32_logits_match_transformers(f32_logits, hf_logits):
    assert f32_logits.shape == hf_logits.shape == (N_TOKENS, 49152)
    assert np.abs(hf_logits).max() > 20  # trained: a peaked distribution, not random weights
    assert np.abs(f32_logits - hf_logits).max() < 2e-4


def test_perplexity_matches_transformers(f32_logits, hf_logits, ids):
    ours, theirs = perplexity(f32_logits, ids), perplexity(hf_logits, ids)
    assert ours < 60  # a trained model reads licence text well (uniform would be 49152)
    assert abs(ours - theirs) / theirs < 1e-4


def test_greedy_tokens_through_the_cache_match_transformers(smollm2_checkpoint, hf_model, ids):
    import torch

    prompt = ids[:16]
    with torch.no_grad():
        out = hf_model.generate(
            torch.tensor([prompt]), max_new_tokens=GREEDY_TOKENS, do_sample=False, eos_token_id=None
        )
    theirs = out[0, len(prompt) :].tolist()
    model = mlx_model.load_model(smollm2_checkpoint, dtype=mx.float32)
    cache = model.make_cache()
    logits = mlx_model.prefill(model, cache, prompt, step=8)  # two chunks, then the last token
    ours: list[int] = []
    for _ in range(GREEDY_TOKENS):
        token = int(mx.argmax(logits, axis=-1).item())
        ours.append(token)
        logits = model.last_logits(mx.array([[token]]), cache)
        cache.commit([token])
    assert ours == theirs


def mlx_lm_quantized_perplexity(checkpoint: Path, ids: list[int], bits: int) -> float:
    from mlx_lm.utils import load_model, quantize_model

    model, config = load_model(checkpoint)
    model.set_dtype(mx.float32)  # as ours below: MLX's CPU backend is slow in bfloat16
    model, _ = quantize_model(model, config, group_size=64, bits=bits)
    logits = model(mx.array([ids]))
    return perplexity(np.array(logits.astype(mx.float32))[0], ids)


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_perplexity_no_worse_than_mlx_lm(smollm2_checkpoint, ids, bits):
    model = mlx_model.load_model(smollm2_checkpoint, dtype=mx.float32)
    quantize_model(model, bits, 64)
    ours = perplexity(our_logits(model, ids), ids)
    theirs = mlx_lm_quantized_perplexity(smollm2_checkpoint, ids, bits)
    assert ours <= theirs * 1.01


def test_8bit_embedding_helps_a_4bit_model(smollm2_checkpoint, ids):
    # The tied embedding is also the output head: its error reaches every logit directly.
    plain = mlx_model.load_model(smollm2_checkpoint, dtype=mx.float32)
    quantize_model(plain, 4, 64)
    mixed = mlx_model.load_model(smollm2_checkpoint, dtype=mx.float32)
    quantize_model(mixed, 4, 64, embed_bits=8)
    assert perplexity(our_logits(mixed, ids), ids) < perplexity(our_logits(plain, ids), ids)
