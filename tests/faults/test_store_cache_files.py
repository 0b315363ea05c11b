"""Saved KV caches on a full, read-only or damaged disk: one clear error, no debris, no crash."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
from llama_chat.store.kv_files import CacheSaveError, CacheStore
from mlx_model import KVCache, prefill

MODEL_ID = "tiny/test-checkpoint"
KEY = {"model_id": MODEL_ID, "quant": "bf16"}
BUDGET = 1 << 30


@pytest.fixture(scope="module")
def model(tiny_f32):
    return mlx_model.load(tiny_f32, dtype=mx.float32)[0]


def tokens(n: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [128000, *rng.integers(0, 128000, size=n - 1).tolist()]


def filled_cache(model, token_ids: list[int]) -> KVCache:
    cache = model.make_cache()
    mx.eval(prefill(model, cache, token_ids), cache.state())
    return cache


def test_a_cache_folder_that_cannot_be_created_is_a_cache_save_error(tmp_path: Path, model) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder's parent should be")
    store = CacheStore(blocker / "kv", BUDGET)
    with pytest.raises(CacheSaveError) as info:
        store.save(7, KEY, filled_cache(model, tokens(12)))
    message = str(info.value)
    assert "\n" not in message and str(blocker / "kv") in message


@pytest.mark.parametrize(
    "mlx_error", ["[save_safetensors] Unable to write 8 bytes.", "Failed to open file .tmp"]
)
def test_a_writer_failure_leaves_no_partial_file_and_keeps_the_older_cache(
    tmp_path: Path, model, monkeypatch, mlx_error: str
) -> None:
    store = CacheStore(tmp_path, BUDGET)
    older = store.save(7, KEY, filled_cache(model, tokens(12)))
    real_save = mx.save_safetensors

    def disk_fills_up(path: str, arrays, metadata=None) -> None:
        # What MLX does on a full disk: part of the file is written, then it raises.
        real_save(path, arrays, metadata=metadata)
        Path(path).write_bytes(Path(path).read_bytes()[:100])
        raise RuntimeError(mlx_error)

    monkeypatch.setattr(mx, "save_safetensors", disk_fills_up)
    with pytest.raises(CacheSaveError, match="Could not save the KV cache") as info:
        store.save(7, KEY, filled_cache(model, tokens(20, seed=1)))
    assert "\n" not in str(info.value) and mlx_error.split()[0] in str(info.value)
    assert sorted(tmp_path.iterdir()) == [older]


def damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def damage_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:40] = b"{not json at all" + b"!" * 16
    path.write_bytes(bytes(data))


def damage_metadata(path: Path) -> None:
    # A well-formed file whose metadata lies: missing and mistyped fields.
    arrays, meta = mx.load(str(path), return_metadata=True)
    meta["length"] = "many"
    meta.pop("sha256")
    mx.save_safetensors(str(path), arrays, metadata=meta)


def damage_tokens(path: Path) -> None:
    arrays, meta = mx.load(str(path), return_metadata=True)
    meta["tokens"] = json.dumps({"not": "a list"})
    mx.save_safetensors(str(path), arrays, metadata=meta)


@pytest.mark.parametrize("damage", [damage_truncate, damage_header, damage_metadata, damage_tokens])
def test_a_damaged_cache_file_is_deleted_and_the_chat_carries_on(
    tmp_path: Path, model, damage
) -> None:
    store = CacheStore(tmp_path, BUDGET)
    prompt = tokens(16)
    path = store.save(7, KEY, filled_cache(model, prompt))
    damage(path)
    assert store.load_best(7, MODEL_ID, "bf16", prompt, model) is None
    assert not path.exists()
    assert store.save(7, KEY, filled_cache(model, prompt)) == path  # and saving works again
    assert store.load_best(7, MODEL_ID, "bf16", prompt, model) is not None
