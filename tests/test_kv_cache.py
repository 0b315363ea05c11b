"""The KV cache: trimming, growth, 8-bit mode, and saving/loading for session resume."""

from __future__ import annotations

import json
import os

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
from mlx_model import CacheFileError, KVCache
from mlx_model.config import ModelConfig
from mlx_model.kv_cache import KV_GROUP_SIZE, STEP
from mlx_model.llama import Model
from mlx_model.testing import TINY_SHAPE, tiny_config_dict


@pytest.fixture(scope="module")
def f32_model(tiny_f32):
    model, tokenizer = mlx_model.load(tiny_f32, dtype=mx.float32)
    return model, tokenizer


@pytest.fixture(scope="module")
def bf16_weights_models(tiny_bf16):
    """The same bf16 weights run with float32 and with bfloat16 activations."""
    f32, _ = mlx_model.load(tiny_bf16, dtype=mx.float32)
    bf16, _ = mlx_model.load(tiny_bf16)
    assert bf16.compute_dtype == mx.bfloat16
    return f32, bf16


def random_tokens(n: int, seed: int) -> list[int]:
    return np.random.default_rng(seed).integers(0, 128000, size=n).tolist()


def run(model, tokens: list[int], cache: KVCache | None = None) -> np.ndarray:
    """Final hidden states (L, hidden) as float32; the cache, when given, records the tokens.

    Hidden states decide the logits (the head is a fixed matrix) at 1/500 of their size, which
    keeps these checks fast on a CPU.
    """
    hidden = model.hidden(mx.array([tokens]), cache)
    if cache is not None:
        cache.commit(tokens)
    return np.array(hidden.astype(mx.float32))[0]


def run_logits(model, tokens: list[int], cache: KVCache) -> np.ndarray:
    logits = model(mx.array([tokens]), cache)
    cache.commit(tokens)
    return np.array(logits.astype(mx.float32))[0]


def test_trim_then_continue_equals_a_fresh_run(f32_model):
    model, _ = f32_model
    first, other = random_tokens(300, seed=1), random_tokens(40, seed=2)
    cache = model.make_cache()
    run(model, first, cache)
    cache.trim_to(100)
    assert cache.length == 100 and cache.tokens == first[:100]
    continued = run(model, other, cache)

    fresh = run(model, first[:100] + other)[100:]
    np.testing.assert_allclose(continued, fresh, atol=1e-4)
    assert cache.length == len(cache.tokens) == 140


def test_trim_to_out_of_range_raises(f32_model):
    model, _ = f32_model
    cache = model.make_cache()
    run(model, random_tokens(5, seed=3), cache)
    with pytest.raises(ValueError):
        cache.trim_to(6)
    with pytest.raises(ValueError):
        cache.trim_to(-1)


def test_growth_past_the_step_keeps_earlier_positions(f32_model):
    model, _ = f32_model
    tokens = random_tokens(STEP + 20, seed=4)
    cache = model.make_cache()
    pieces = [run(model, tokens[: STEP - 6], cache)]
    assert cache.layers[0].capacity == STEP
    # One token at a time across the boundary: every grow must keep what was written.
    pieces += [run(model, [t], cache) for t in tokens[STEP - 6 :]]
    assert cache.layers[0].capacity == 2 * STEP
    assert cache.length == len(tokens)
    np.testing.assert_allclose(np.concatenate(pieces), run(model, tokens), atol=1e-4)


def kv_nbytes(config: ModelConfig, capacity: int, bits: int | None, dtype_bytes: int) -> int:
    """K and V for every layer: packed values plus one scale and one bias per group."""
    if bits is None:
        per_row = config.head_dim * dtype_bytes
    else:
        per_row = config.head_dim * bits // 8 + 2 * (config.head_dim // KV_GROUP_SIZE) * dtype_bytes
    return 2 * config.num_hidden_layers * config.num_key_value_heads * capacity * per_row


def test_8bit_cache_is_as_close_as_bf16_activations_and_smaller(bf16_weights_models):
    # Tolerance: the app already accepts bf16 activations (mlx-lm's and Metal's precision), so
    # 8-bit K/V must cost no more accuracy than that does, both measured against float32.
    f32, bf16 = bf16_weights_models
    tokens = random_tokens(300, seed=5)

    def chunked(model, kv_bits):
        # Logits of the last 60 positions, each attending to up to 300 cached ones.
        cache = model.make_cache(kv_bits=kv_bits)
        run(model, tokens[:240], cache)
        return run_logits(model, tokens[240:], cache)

    reference = chunked(f32, None)
    kv8 = chunked(f32, 8)
    kv8_error = np.abs(kv8 - reference)
    bf16_error = np.abs(chunked(bf16, None) - reference)
    assert kv8_error.mean() < bf16_error.mean()
    assert kv8_error.max() < 1.5 * bf16_error.max()
    assert (kv8.argmax(-1) == reference.argmax(-1)).mean() > 0.95


@pytest.mark.parametrize("bits", [None, 8, 4])
def test_cache_bytes_follow_the_layout(bf16_weights_models, bits):
    _, bf16 = bf16_weights_models
    cache = bf16.make_cache(kv_bits=bits)
    run(bf16, random_tokens(10, seed=6), cache)
    assert cache.nbytes == kv_nbytes(bf16.config, STEP, bits, dtype_bytes=2)


def test_8bit_cache_uses_little_more_than_half_the_memory(bf16_weights_models):
    _, bf16 = bf16_weights_models
    sizes = {}
    for bits in (None, 8):
        cache = bf16.make_cache(kv_bits=bits)
        run(bf16, random_tokens(10, seed=7), cache)
        sizes[bits] = cache.nbytes
    assert sizes[8] < 0.55 * sizes[None]


def test_unsupported_kv_bits_raise():
    with pytest.raises(ValueError, match="kv_bits"):
        KVCache(2, kv_bits=6)


def greedy_continue(model, tokenizer, cache: KVCache, prompt: list[int], n: int) -> list[int]:
    tokens, _, final = mlx_model.generate_all(
        model, tokenizer, prompt, cache=cache, max_tokens=n, stop_ids=[]
    )
    assert final.finish_reason == "length"
    return tokens


@pytest.mark.parametrize("kv_bits", [None, 8])
def test_save_load_round_trip_continues_to_identical_greedy_tokens(f32_model, tmp_path, kv_bits):
    model, tokenizer = f32_model
    prompt = random_tokens(30, seed=8)
    cache = model.make_cache(kv_bits=kv_bits)
    answer = greedy_continue(model, tokenizer, cache, prompt, 6)
    path = tmp_path / "session.safetensors"
    cache.save(path, {"model": "tiny", "note": "é ✓"})

    loaded, meta = KVCache.load(path, model.config)
    assert meta["model"] == "tiny" and meta["note"] == "é ✓"
    assert loaded.tokens == cache.tokens and loaded.length == cache.length
    assert loaded.kv_bits == kv_bits
    for a, b in zip(loaded.state(), cache.state(), strict=True):
        assert mx.array_equal(a, b)

    follow_up = prompt + answer + random_tokens(5, seed=9)
    from_loaded = greedy_continue(model, tokenizer, loaded, follow_up, 8)
    from_live = greedy_continue(model, tokenizer, cache, follow_up, 8)
    assert from_loaded == from_live
    # The loaded cache was reused, not recomputed: only the new tokens were prefilled.
    assert loaded.tokens[: len(follow_up)] == follow_up


def saved_cache(model, tmp_path, n: int = 12):
    cache = model.make_cache()
    run(model, random_tokens(n, seed=10), cache)
    path = tmp_path / "c.safetensors"
    cache.save(path, {"model": "tiny"})
    return path


def test_random_bytes_are_not_a_cache(f32_model, tmp_path):
    model, _ = f32_model
    path = tmp_path / "junk.safetensors"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CacheFileError, match="junk.safetensors"):
        KVCache.load(path, model.config)


def test_missing_cache_file_is_a_cache_error(f32_model, tmp_path):
    model, _ = f32_model
    with pytest.raises(CacheFileError):
        KVCache.load(tmp_path / "absent.safetensors", model.config)


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_cache_file_raises(f32_model, tmp_path, keep):
    model, _ = f32_model
    path = saved_cache(model, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CacheFileError):
        KVCache.load(path, model.config)


def test_cache_from_a_model_with_other_layer_count_raises(f32_model, tmp_path):
    model, _ = f32_model
    config = ModelConfig.from_dict(tiny_config_dict({**TINY_SHAPE, "num_hidden_layers": 3}))
    three_layers = Model(config, compute_dtype=mx.float32)
    path = saved_cache(three_layers, tmp_path)
    with pytest.raises(CacheFileError, match="3 layers"):
        KVCache.load(path, model.config)


def test_cache_from_a_model_with_other_head_shape_raises(f32_model, tmp_path):
    model, _ = f32_model
    shape = {**TINY_SHAPE, "num_key_value_heads": 4}
    other = Model(ModelConfig.from_dict(tiny_config_dict(shape)), compute_dtype=mx.float32)
    with pytest.raises(CacheFileError):
        KVCache.load(saved_cache(other, tmp_path), model.config)


@pytest.mark.parametrize("kv_bits", [None, 8])
def test_cache_from_a_model_with_other_head_dim_raises(f32_model, tmp_path, kv_bits):
    model, _ = f32_model
    shape = {**TINY_SHAPE, "head_dim": 128}
    other = Model(ModelConfig.from_dict(tiny_config_dict(shape)), compute_dtype=mx.float32)
    cache = other.make_cache(kv_bits=kv_bits)
    run(other, random_tokens(6, seed=11), cache)
    cache.save(tmp_path / "c.safetensors")
    with pytest.raises(CacheFileError, match="head_dim"):
        KVCache.load(tmp_path / "c.safetensors", model.config)


def rewrite_metadata(path, **changes: str) -> None:
    arrays, meta = mx.load(str(path), return_metadata=True)
    meta.update(changes)
    mx.save_safetensors(str(path), arrays, metadata=meta)


def test_token_hash_mismatch_raises(f32_model, tmp_path):
    model, _ = f32_model
    path = saved_cache(model, tmp_path)
    _, meta = mx.load(str(path), return_metadata=True)
    tokens = json.loads(meta["tokens"])
    tokens[3] += 1
    rewrite_metadata(path, tokens=json.dumps(tokens))
    with pytest.raises(CacheFileError, match="hash"):
        KVCache.load(path, model.config)


@pytest.mark.parametrize(
    "changes",
    [{"format": "0"}, {"length": "seven"}, {"tokens": "[1, 2"}, {"num_layers": "x"}],
)
def test_corrupt_metadata_raises(f32_model, tmp_path, changes):
    model, _ = f32_model
    path = saved_cache(model, tmp_path)
    rewrite_metadata(path, **changes)
    with pytest.raises(CacheFileError):
        KVCache.load(path, model.config)


def test_safetensors_without_our_metadata_raises(f32_model, tiny_f32):
    model, _ = f32_model
    with pytest.raises(CacheFileError, match="format"):
        KVCache.load(tiny_f32 / "model.safetensors", model.config)


# -- one counter: committed tokens ---------------------------------------------------------


def test_kv_cache_does_not_import_the_decoder():
    # kv_cache <-> llama was an import cycle; the cache needs only a ModelConfig.
    import ast
    import inspect

    import mlx_model.kv_cache as kv_cache

    tree = ast.parse(inspect.getsource(kv_cache))
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "llama" not in modules and ".llama" not in modules
    assert not hasattr(KVCache, "sync_to_tokens") and not hasattr(KVCache, "advance")


def test_a_forward_pass_counts_only_once_committed(f32_model):
    model, _ = f32_model
    tokens = random_tokens(8, seed=12)
    cache = model.make_cache()
    model.hidden(mx.array([tokens]), cache)
    assert cache.length == cache.offset == 0 and cache.tokens == []
    cache.commit(tokens)
    assert cache.length == cache.offset == 8 and cache.tokens == tokens


def test_an_uncommitted_step_is_overwritten_by_the_next(f32_model):
    # A decode step queued ahead and then cancelled leaves K/V past the committed tokens; the
    # next forward pass writes over them, so nothing needs rolling back.
    model, _ = f32_model
    prompt, stray, real = random_tokens(20, seed=13), random_tokens(1, seed=14), [7]
    cache = model.make_cache()
    run(model, prompt, cache)
    model.hidden(mx.array([stray]), cache)  # never committed
    continued = run(model, real, cache)
    np.testing.assert_allclose(continued, run(model, prompt + real)[-1:], atol=1e-4)
    assert cache.tokens == prompt + real


def test_tokens_is_a_copy(f32_model):
    model, _ = f32_model
    cache = model.make_cache()
    run(model, [1, 2, 3], cache)
    cache.tokens.append(4)
    assert cache.tokens == [1, 2, 3] and cache.length == 3


def test_commit_without_a_forward_pass_raises():
    with pytest.raises(ValueError, match="no K/V"):
        KVCache(2).commit([1, 2])


# -- 8-bit K/V attended in packed form -----------------------------------------------------


def test_quantized_cache_hands_attention_packed_arrays(f32_model):
    model, _ = f32_model
    cache = model.make_cache(kv_bits=8)
    k = mx.random.normal((1, model.config.num_key_value_heads, 3, model.config.head_dim))
    keys, values = cache.update_and_fetch(0, k, k)
    assert isinstance(keys, tuple) and keys[0].dtype == mx.uint32 and keys[0].shape[2] == 3


@pytest.mark.parametrize("L", [1, 7])
def test_packed_attention_equals_attention_on_dequantized_kv(L):
    # Same quantized K/V read two ways; float32 rounding is the only difference.
    from mlx_model.kv_cache import quantized_attention

    B, heads, kv_heads, S, D = 1, 8, 2, 40, 64
    q = mx.random.normal((B, heads, L, D), key=mx.random.key(0))
    k = mx.random.normal((B, kv_heads, S, D), key=mx.random.key(1))
    v = mx.random.normal((B, kv_heads, S, D), key=mx.random.key(2))
    kq = mx.quantize(k, group_size=KV_GROUP_SIZE, bits=8)
    vq = mx.quantize(v, group_size=KV_GROUP_SIZE, bits=8)
    k_deq = mx.dequantize(*kq, group_size=KV_GROUP_SIZE, bits=8)
    v_deq = mx.dequantize(*vq, group_size=KV_GROUP_SIZE, bits=8)
    ours = quantized_attention(q, kq, vq, D**-0.5, bits=8)
    reference = mx.fast.scaled_dot_product_attention(
        q, k_deq, v_deq, scale=D**-0.5, mask="causal" if L > 1 else None
    )
    np.testing.assert_allclose(np.array(ours), np.array(reference), atol=1e-5)


def test_8bit_kv_greedy_tokens_equal_mlx_lm_quantized_cache(tiny_f32):
    from mlx_lm.generate import generate_step
    from mlx_lm.models.cache import QuantizedKVCache
    from mlx_lm.utils import load_model

    prompt = random_tokens(40, seed=15)
    model, tokenizer = mlx_model.load(tiny_f32, dtype=mx.float32)
    ours = greedy_continue(model, tokenizer, model.make_cache(kv_bits=8), prompt, 24)

    theirs_model, _ = load_model(tiny_f32)
    # Their quantized cache from the first token, as ours is: prefill attends packed K/V too.
    cache = [QuantizedKVCache(group_size=KV_GROUP_SIZE, bits=8) for _ in theirs_model.layers]
    steps = generate_step(
        mx.array(prompt),
        theirs_model,
        max_tokens=24,
        prompt_cache=cache,
        sampler=lambda x: mx.argmax(x, -1),
    )
    assert ours == [int(token) for token, _ in steps]
