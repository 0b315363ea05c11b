"""Our decoder against the reference peers: transformers (logits) and mlx-lm (greedy tokens)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
import mlx_model.quantize
from mlx_model.testing import make_tiny_checkpoint

N_POSITIONS = 300


@pytest.fixture(scope="module")
def hf_model(tiny_f32):
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(tiny_f32, dtype=torch.float32)
    model.eval()
    return model


def hf_logits(hf_model, tokens: list[int]) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = hf_model(torch.tensor([tokens]))
    return out.logits[0].float().numpy()


def random_tokens(n: int, seed: int = 1) -> list[int]:
    rng = np.random.default_rng(seed)
    return [128000, *rng.integers(0, 128000, size=n - 1).tolist()]


def test_logits_match_transformers_without_cache(tiny_f32, hf_model):
    model, _ = mlx_model.load(tiny_f32, dtype=mx.float32)
    tokens = random_tokens(N_POSITIONS)
    ours = np.array(model(mx.array([tokens])).astype(mx.float32))[0]
    theirs = hf_logits(hf_model, tokens)
    assert ours.shape == theirs.shape == (N_POSITIONS, 128256)
    assert np.abs(ours - theirs).max() < 1e-4


def test_logits_match_transformers_token_by_token_with_cache(tiny_f32, hf_model):
    model, _ = mlx_model.load(tiny_f32, dtype=mx.float32)
    tokens = random_tokens(N_POSITIONS, seed=2)
    theirs = hf_logits(hf_model, tokens)
    cache = model.make_cache()
    worst = 0.0
    for i, token in enumerate(tokens):
        step = np.array(model(mx.array([[token]]), cache))[0, 0]
        cache.commit([token])
        worst = max(worst, float(np.abs(step - theirs[i]).max()))
    assert cache.length == N_POSITIONS
    assert worst < 1e-4


def test_chunked_prefill_then_decode_matches_transformers(tiny_f32, hf_model):
    model, _ = mlx_model.load(tiny_f32, dtype=mx.float32)
    tokens = random_tokens(N_POSITIONS, seed=3)
    theirs = hf_logits(hf_model, tokens)
    cache = model.make_cache()
    last = mlx_model.prefill(model, cache, tokens[:-1], step=64)
    assert np.abs(np.array(last)[0] - theirs[-2]).max() < 1e-4
    final = np.array(model(mx.array([tokens[-1:]]), cache))[0, 0]
    assert np.abs(final - theirs[-1]).max() < 1e-4


def test_transformers_v5_rope_parameters_config_reads_the_same(tiny_f32, hf_model, tmp_path):
    # transformers v5 writes rope_parameters instead of rope_theta + rope_scaling.
    hf_model.save_pretrained(tmp_path, safe_serialization=True)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "rope_parameters" in saved and saved["rope_parameters"]["rope_type"] == "llama3"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_f32 / name, tmp_path / name)
    ours_v5, _ = mlx_model.load(tmp_path, dtype=mx.float32)
    ours, _ = mlx_model.load(tiny_f32, dtype=mx.float32)
    assert ours_v5.config.rope_scaling == ours.config.rope_scaling
    tokens = random_tokens(64, seed=4)
    a = np.array(ours_v5(mx.array([tokens])))
    b = np.array(ours(mx.array([tokens])))
    assert np.abs(a - b).max() < 1e-6


def mlx_lm_model(path, dtype):
    """mlx-lm's model of a checkpoint, without its tokenizer: transformers reading a
    tokenizer.json costs far more than the tiny model, and these tests feed token ids."""
    from mlx_lm.utils import load_model

    model, _ = load_model(Path(path))
    model.set_dtype(dtype)
    return model


def mlx_lm_greedy(path, prompt: list[int], n: int, dtype) -> list[int]:
    from mlx_lm.generate import generate_step

    model = mlx_lm_model(path, dtype)
    steps = generate_step(mx.array(prompt), model, max_tokens=n, sampler=lambda x: mx.argmax(x, -1))
    return [int(token) for token, _ in steps]


def our_greedy(path, prompt: list[int], n: int, dtype) -> list[int]:
    model, tokenizer = mlx_model.load(path, dtype=dtype)
    tokens, _, final = mlx_model.generate_all(model, tokenizer, prompt, max_tokens=n, stop_ids=[])
    assert final.finish_reason == "length"
    return tokens


@pytest.mark.parametrize("bits", [4, 8])
def test_greedy_tokens_match_mlx_lm_on_quantized_checkpoints(bits, request):
    # float32 activations: what our engine computes in on a CPU for quantized weights.
    path = request.getfixturevalue(f"tiny_{bits}bit")
    prompt = random_tokens(40, seed=bits)
    ours = our_greedy(path, prompt, 64, mx.float32)
    theirs = mlx_lm_greedy(path, prompt, 64, mx.float32)
    assert len(ours) == 64
    assert ours == theirs


def mlx_lm_argmax_along(path, prompt: list[int], continuation: list[int], dtype) -> list[int]:
    """mlx-lm's own argmax at each step, fed ``continuation`` through its own KV cache."""
    from mlx_lm.models.cache import make_prompt_cache

    model = mlx_lm_model(path, dtype)
    cache = make_prompt_cache(model)
    logits = model(mx.array([prompt]), cache=cache)[:, -1, :]
    picks = []
    for token in continuation:
        picks.append(int(mx.argmax(logits.astype(mx.float32), axis=-1).item()))
        logits = model(mx.array([[token]]), cache=cache)[:, -1, :]
    return picks


@pytest.mark.parametrize("bits", [4, 8])
def test_bf16_greedy_tokens_are_mlx_lm_argmax_at_every_step(bits, request):
    # In bf16, mlx-lm's generate_step takes argmax of bf16 log-probabilities, whose rounding
    # turns near-equal logits into ties that it breaks by index; we take argmax of the logits
    # themselves. So the check is step by step: each of our 32 tokens is mlx-lm's own argmax.
    # Short: bf16 activations take MLX's slow path on a CPU (about 8x float32's time per token).
    path = request.getfixturevalue(f"tiny_{bits}bit")
    prompt = random_tokens(16, seed=bits)
    ours = our_greedy(path, prompt, 32, mx.bfloat16)
    assert ours == mlx_lm_argmax_along(path, prompt, ours, mx.bfloat16)


def test_checkpoint_quantized_by_mlx_lm_loads_and_matches(tiny_bf16, tmp_path):
    from mlx_lm import convert

    out = tmp_path / "by-mlx-lm"
    convert(str(tiny_bf16), str(out), quantize=True, q_bits=4, q_group_size=64)
    prompt = random_tokens(24, seed=7)
    assert our_greedy(out, prompt, 32, mx.float32) == mlx_lm_greedy(out, prompt, 32, mx.float32)


def test_our_quantization_equals_mlx_lm_quantization(tiny_bf16, tmp_path):
    from mlx_lm import convert

    convert(str(tiny_bf16), str(tmp_path / "theirs"), quantize=True, q_bits=8, q_group_size=64)
    mlx_model.quantize.convert(tiny_bf16, tmp_path / "ours", bits=8, group_size=64)
    ours = mx.load(str(tmp_path / "ours" / "model.safetensors"))
    theirs = mx.load(str(tmp_path / "theirs" / "model.safetensors"))
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        assert mx.array_equal(ours[name], theirs[name]), name
    ours_cfg = json.loads((tmp_path / "ours" / "config.json").read_text())["quantization"]
    theirs_cfg = json.loads((tmp_path / "theirs" / "config.json").read_text())["quantization"]
    assert (
        ours_cfg["bits"] == theirs_cfg["bits"]
        and ours_cfg["group_size"] == theirs_cfg["group_size"]
    )


def test_4bit_with_8bit_embedding_is_closer_to_bf16(tiny_bf16, tmp_path):
    probe = random_tokens(32, seed=9)
    plain = mlx_model.quantize.convert(tiny_bf16, tmp_path / "q4", bits=4, probe_tokens=probe)
    mixed = mlx_model.quantize.convert(
        tiny_bf16, tmp_path / "q4e8", bits=4, embed_bits=8, probe_tokens=probe
    )
    assert mixed["logit_mean_abs_err"] < plain["logit_mean_abs_err"]
    assert mixed["size_bytes"] > plain["size_bytes"]
    # The mixed checkpoint must still load in mlx-lm (per-layer overrides in its config form).
    assert our_greedy(tmp_path / "q4e8", probe, 16, mx.float32) == mlx_lm_greedy(
        tmp_path / "q4e8", probe, 16, mx.float32
    )


def test_tiny_checkpoint_layout_is_like_mlx_community(tokenizer_model_path, tmp_path):
    path = make_tiny_checkpoint(tmp_path / "c", tokenizer_model_path, quant_bits=4)
    names = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "original/tokenizer.model",
    } <= names
    config = json.loads((path / "config.json").read_text())
    assert config["quantization"]["bits"] == 4 and config["vocab_size"] == 128256
    tensors = mx.load(str(path / "model.safetensors"))
    assert tensors["model.layers.0.self_attn.q_proj.weight"].dtype == mx.uint32
    assert "model.layers.0.self_attn.q_proj.scales" in tensors
