"""Faults: damaged KV cache files loaded and changed the next answer.

Flipped bytes in tensor data, a zeroed half, NaN keys, F32 relabelled as I32, K and V swapped
and layers swapped all loaded; a token list holding ``null`` raised TypeError. Each is now a
CacheFileError, which the cache store answers by deleting the file and prefilling again.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
from mlx_model import CacheFileError, KVCache


@pytest.fixture(scope="module")
def model(tiny_f32):
    loaded, _ = mlx_model.load(tiny_f32, dtype=mx.float32)
    return loaded


def saved(model, directory: Path, kv_bits: int | None = None) -> Path:
    tokens = np.random.default_rng(0).integers(0, 128000, size=20).tolist()
    cache = model.make_cache(kv_bits=kv_bits)
    model.hidden(mx.array([tokens]), cache)
    cache.commit(tokens)
    path = directory / "c.safetensors"
    cache.save(path, {"model": "tiny"})
    KVCache.load(path, model.config)  # undamaged, it loads
    return path


def refused(path: Path, model) -> str:
    with pytest.raises(CacheFileError) as info:
        KVCache.load(path, model.config)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def header(path: Path) -> tuple[int, dict]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8 : 8 + n])


def rewrite_header(path: Path, edit) -> None:
    """Change the JSON header in place, padded to its old length so data offsets stay put."""
    data = path.read_bytes()
    n, head = header(path)
    text = json.dumps(edit(head), separators=(",", ":")).encode()
    assert len(text) <= n
    path.write_bytes(data[:8] + text.ljust(n) + data[8 + n :])


def resave(path: Path, edit) -> None:
    """Load the tensors, change them, and write them back under the original header metadata."""
    arrays, meta = mx.load(str(path), return_metadata=True)
    mx.save_safetensors(str(path), edit(dict(arrays)), metadata=meta)


@pytest.mark.parametrize("kv_bits", [None, 8])
def test_flipped_bytes_in_tensor_data_are_refused(model, tmp_path, kv_bits):
    path = saved(model, tmp_path, kv_bits)
    n, _ = header(path)
    data = bytearray(path.read_bytes())
    at = 8 + n + (len(data) - 8 - n) // 3
    data[at] ^= 0x10
    path.write_bytes(bytes(data))
    assert "sha256" in refused(path, model)


def test_a_zeroed_half_is_refused(model, tmp_path):
    path = saved(model, tmp_path)
    data = path.read_bytes()
    half = len(data) // 2
    path.write_bytes(data[:half] + bytes(len(data) - half))
    refused(path, model)


def test_nan_keys_are_refused(model, tmp_path):
    path = saved(model, tmp_path)

    def poison(arrays):
        keys = np.array(arrays["layer.0.keys.weight"])
        keys[0, 0, 3, 5] = np.nan
        return {**arrays, "layer.0.keys.weight": mx.array(keys)}

    resave(path, poison)
    refused(path, model)


def test_nan_keys_with_a_matching_checksum_are_refused(model, tmp_path):
    # Written by save() itself, so only the finiteness check can catch it.
    tokens = [5, 6, 7]
    cache = model.make_cache()
    model.hidden(mx.array([tokens]), cache)
    cache.commit(tokens)
    cache.layers[1].values[0, 0, 1, 2] = float("nan")
    path = tmp_path / "nan.safetensors"
    cache.save(path)
    assert "NaN" in refused(path, model)


def test_f32_relabelled_as_i32_is_refused(model, tmp_path):
    path = saved(model, tmp_path)

    def relabel(head):
        head["layer.0.keys.weight"]["dtype"] = "I32"
        return head

    rewrite_header(path, relabel)
    refused(path, model)


@pytest.mark.parametrize("kv_bits", [None, 8])
def test_keys_and_values_swapped_are_refused(model, tmp_path, kv_bits):
    path = saved(model, tmp_path, kv_bits)

    def swap(arrays):
        out = dict(arrays)
        for name in arrays:
            if ".keys." in name:
                other = name.replace(".keys.", ".values.")
                out[name], out[other] = arrays[other], arrays[name]
        return out

    resave(path, swap)
    assert "sha256" in refused(path, model)


def test_layers_swapped_are_refused(model, tmp_path):
    path = saved(model, tmp_path)

    def swap(arrays):
        out = dict(arrays)
        for name in arrays:
            if name.startswith("layer.0."):
                other = name.replace("layer.0.", "layer.1.")
                out[name], out[other] = arrays[other], arrays[name]
        return out

    resave(path, swap)
    assert "sha256" in refused(path, model)


@pytest.mark.parametrize("bad", [None, -1, 10**9, True, 1.5, "7"])
def test_token_lists_holding_non_token_values_are_refused(model, tmp_path, bad):
    path = saved(model, tmp_path)
    arrays, meta = mx.load(str(path), return_metadata=True)
    tokens = json.loads(meta["tokens"])
    tokens[4] = bad
    meta["tokens"] = json.dumps(tokens)
    mx.save_safetensors(str(path), arrays, metadata=meta)
    assert "token" in refused(path, model)


def test_a_token_list_that_is_not_a_list_is_refused(model, tmp_path):
    path = saved(model, tmp_path)
    arrays, meta = mx.load(str(path), return_metadata=True)
    meta["tokens"] = json.dumps({"0": 1})
    mx.save_safetensors(str(path), arrays, metadata=meta)
    refused(path, model)


def test_an_extra_tensor_is_refused(model, tmp_path):
    path = saved(model, tmp_path)
    resave(path, lambda arrays: {**arrays, "layer.9.keys.weight": mx.zeros((1,))})
    refused(path, model)
