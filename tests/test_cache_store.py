"""Persisted KV caches: the real KVCache and a generated tiny checkpoint, no fakes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
from llama_chat.store.kv_files import CacheSaveError, CacheStore
from mlx_model import KVCache, SamplingParams, prefill, stream_generate

MODEL_ID = "tiny/test-checkpoint"
KEY = {"model_id": MODEL_ID, "quant": "bf16"}
BIG_BUDGET = 1 << 30


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_f32):
    return mlx_model.load(tiny_f32, dtype=mx.float32)


@pytest.fixture(scope="module")
def model(model_and_tokenizer):
    return model_and_tokenizer[0]


def tokens(n: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [128000, *rng.integers(0, 128000, size=n - 1).tolist()]


def filled_cache(model, token_ids: list[int]) -> KVCache:
    cache = model.make_cache()
    logits = prefill(model, cache, token_ids)
    mx.eval(logits, cache.state())
    return cache


def as_numpy(cache: KVCache) -> list[np.ndarray]:
    return [np.array(a) for a in cache.state()]


def greedy(model, tokenizer, prompt: list[int], cache: KVCache | None) -> tuple[list[int], int]:
    events = list(
        stream_generate(
            model,
            tokenizer,
            prompt,
            cache=cache,
            sampling=SamplingParams(),
            max_tokens=6,
            stop_ids=[],
        )
    )
    return [e.token for e in events if e.token is not None], events[-1].stats.cached_tokens


def test_save_then_load_gives_back_the_same_cache(tmp_path: Path, model) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    prompt = tokens(40)
    cache = filled_cache(model, prompt)
    path = store.save(7, KEY, cache)
    assert path == store.path_for(7, MODEL_ID, "bf16", prompt)
    assert store.session_files(7) == [path]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]

    loaded = store.load_best(7, MODEL_ID, "bf16", prompt + tokens(5, seed=9), model)
    assert loaded is not None
    assert loaded.tokens == prompt and loaded.length == 40
    for ours, theirs in zip(as_numpy(loaded), as_numpy(cache), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_a_resumed_cache_generates_what_a_fresh_prefill_does(
    tmp_path: Path, model_and_tokenizer
) -> None:
    model, tokenizer = model_and_tokenizer
    store = CacheStore(tmp_path, BIG_BUDGET)
    first_turn = tokens(30, seed=1)
    cache = model.make_cache()
    answer, _ = greedy(model, tokenizer, first_turn, cache)
    store.save(3, KEY, cache)

    second_turn = first_turn + answer + tokens(8, seed=2)[1:]
    resumed = store.load_best(3, MODEL_ID, "bf16", second_turn, model)
    assert resumed is not None
    # The last answer token is sampled but never fed back, so its K/V are not in the cache.
    assert resumed.length == len(first_turn) + len(answer) - 1
    from_disk, cached = greedy(model, tokenizer, second_turn, resumed)
    from_scratch, _ = greedy(model, tokenizer, second_turn, None)
    assert from_disk == from_scratch
    assert cached == len(first_turn) + len(answer) - 1  # only the new turn was prefilled


@pytest.mark.parametrize(
    ("model_id", "quant", "reason"),
    [("other/model", "bf16", "foreign model"), (MODEL_ID, "4bit", "other quant level")],
)
def test_a_cache_from_another_model_is_deleted(
    tmp_path: Path, model, model_id: str, quant: str, reason: str
) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    prompt = tokens(20)
    path = store.save(1, KEY, filled_cache(model, prompt))
    assert store.load_best(1, model_id, quant, prompt, model) is None, reason
    assert not path.exists()


def test_a_cache_sharing_no_prefix_with_the_prompt_is_deleted(tmp_path: Path, model) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    path = store.save(1, KEY, filled_cache(model, tokens(20)))
    unrelated = [5, *tokens(20, seed=4)[1:]]
    assert store.load_best(1, MODEL_ID, "bf16", unrelated, model) is None
    assert not path.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_corrupt_file_is_deleted(tmp_path: Path, model, damage: str) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    prompt = tokens(20)
    path = store.save(1, KEY, filled_cache(model, prompt))
    data = path.read_bytes()
    path.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b""}[damage]
    )
    assert store.load_best(1, MODEL_ID, "bf16", prompt, model) is None
    assert not path.exists()


def test_a_file_copied_from_another_chat_is_not_trusted(tmp_path: Path, model) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    prompt = tokens(20)
    source = store.save(1, KEY, filled_cache(model, prompt))
    copied = store.path_for(2, MODEL_ID, "bf16", prompt)
    shutil.copy(source, copied)
    assert store.load_best(2, MODEL_ID, "bf16", prompt, model) is None
    assert not copied.exists() and source.exists()


def test_a_cache_for_a_smaller_model_is_rejected_by_the_real_loader(
    tmp_path: Path, model, tokenizer_model_path
) -> None:
    from mlx_model.testing import TINY_SHAPE, make_tiny_checkpoint

    one_layer = make_tiny_checkpoint(
        tmp_path / "one-layer", tokenizer_model_path, shape={**TINY_SHAPE, "num_hidden_layers": 1}
    )
    small_model, _ = mlx_model.load(one_layer)
    store = CacheStore(tmp_path / "kv", BIG_BUDGET)
    prompt = tokens(10)
    path = store.save(1, KEY, filled_cache(small_model, prompt))
    assert store.load_best(1, MODEL_ID, "bf16", prompt, model) is None  # same id, other shapes
    assert not path.exists()


def test_one_file_per_chat_newest_wins(tmp_path: Path, model) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    prompt = tokens(30)
    store.save(1, KEY, filled_cache(model, prompt[:10]))
    newest = store.save(1, KEY, filled_cache(model, prompt))
    store.save(11, KEY, filled_cache(model, prompt[:5]))  # another chat whose id starts alike
    assert store.session_files(1) == [newest]
    assert len(store.session_files(11)) == 1
    loaded = store.load_best(1, MODEL_ID, "bf16", prompt, model)
    assert loaded is not None and loaded.length == 30


def test_least_recently_used_files_are_evicted_first(tmp_path: Path, model) -> None:
    prompt = tokens(16)
    probe = CacheStore(tmp_path / "probe", BIG_BUDGET)
    one_file = probe.save(0, KEY, filled_cache(model, prompt)).stat().st_size

    store = CacheStore(tmp_path / "kv", budget_bytes=int(2.5 * one_file))
    paths = {sid: store.save(sid, KEY, filled_cache(model, prompt)) for sid in (1, 2)}
    os.utime(paths[1], (1_000, 1_000))  # chat 1 saved long ago ...
    os.utime(paths[2], (2_000, 2_000))
    assert store.load_best(1, MODEL_ID, "bf16", prompt, model) is not None  # ... but used now
    store.save(3, KEY, filled_cache(model, prompt))
    assert store.session_files(2) == []  # the least recently used went
    assert store.session_files(1) and store.session_files(3)
    assert store.total_bytes() <= store.budget_bytes


def test_zero_budget_keeps_nothing(tmp_path: Path, model) -> None:
    store = CacheStore(tmp_path, 0)
    assert store.save(1, KEY, filled_cache(model, tokens(8))) is None
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_previous_file_and_no_temp(tmp_path: Path, model) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    prompt = tokens(12)
    old = store.save(1, KEY, filled_cache(model, prompt))
    cache = filled_cache(model, tokens(14, seed=5))

    def save_then_fail(path, metadata=None):
        Path(path).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    cache.save = save_then_fail
    with pytest.raises(CacheSaveError, match="No space left on device"):
        store.save(1, KEY, cache)
    assert sorted(tmp_path.iterdir()) == [old]


def test_delete_session_removes_its_files_only(tmp_path: Path, model) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    store.save(1, KEY, filled_cache(model, tokens(8)))
    kept = store.save(2, KEY, filled_cache(model, tokens(8)))
    assert store.delete_session(1) == 1
    assert store.session_files(1) == [] and kept.exists()


def test_session_ids_must_be_safe_file_names(tmp_path: Path) -> None:
    store = CacheStore(tmp_path, BIG_BUDGET)
    with pytest.raises(ValueError, match="file name"):
        store.path_for("../etc", MODEL_ID, "bf16", [1, 2])
