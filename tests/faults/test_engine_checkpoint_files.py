"""Faults: checkpoint files that were not files, or not what they said they were.

A named pipe as config.json or model.safetensors hung the load for ever; a link to a device
(/dev/zero) was read until the kernel killed the process; NaN and infinite weights loaded and
answered "!!!"; a tensor relabelled BF16 -> F16 or -> I16 was silently cast; an index naming
shards by number gave a traceback, and one naming ../ or absolute paths opened files outside
the checkpoint. Each is now one WeightsError or ConfigError line naming the file and tensor.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mlx.core as mx
import pytest

from mlx_model import ConfigError, ModelConfig, WeightsError, load_model
from tests.faults.hostile_files import python_outcome, returns_promptly


@pytest.fixture
def checkpoint(tmp_path, tiny_bf16) -> Path:
    return Path(shutil.copytree(tiny_bf16, tmp_path / "ckpt"))


def one_line(error: pytest.ExceptionInfo, *words: str) -> str:
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    return message


def replace_with_fifo(path: Path) -> Path:
    path.unlink()
    os.mkfifo(path)
    return path


def rewrite_tensors(path: Path, change) -> None:
    tensors, meta = mx.load(str(path), return_metadata=True)
    change(tensors)
    mx.save_safetensors(str(path), tensors, metadata=meta)


# -- item 2: not a regular file, or too large -----------------------------------------------------


@pytest.mark.parametrize("name", ["config.json", "generation_config.json"])
def test_config_named_pipe_is_refused_without_waiting(checkpoint, name):
    fifo = replace_with_fifo(checkpoint / name)
    with pytest.raises(ConfigError) as info:
        returns_promptly(fifo, lambda: ModelConfig.from_file(checkpoint / "config.json"))
    one_line(info, str(fifo), "named pipe", "not a regular file")


def test_config_link_to_a_device_is_refused(checkpoint):
    # /dev/null, not /dev/zero: read to the end by a reader without the check, it ends at once.
    (checkpoint / "generation_config.json").unlink()
    (checkpoint / "generation_config.json").symlink_to("/dev/null")
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_file(checkpoint / "config.json")
    one_line(info, "generation_config.json", "character device")


def test_oversized_config_is_refused_before_reading(checkpoint):
    with open(checkpoint / "config.json", "r+b") as f:
        f.truncate(8 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_file(checkpoint / "config.json")
    one_line(info, "config.json", "over the 1 MiB limit")


def test_weights_named_pipe_is_refused_without_waiting(checkpoint):
    replace_with_fifo(checkpoint / "model.safetensors")
    result = python_outcome(f"import mlx_model; mlx_model.load_model({str(checkpoint)!r})")
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mlx_model.weights.WeightsError: "), result.stderr
    assert "model.safetensors" in last and "named pipe" in last


def test_weights_link_to_a_device_is_refused(checkpoint):
    (checkpoint / "model.safetensors").unlink()
    (checkpoint / "model.safetensors").symlink_to("/dev/null")
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    one_line(info, "model.safetensors", "/dev/null")


# -- item 7: values and dtypes ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weight_is_refused(checkpoint, value):
    name = "model.layers.0.mlp.down_proj.weight"

    def poison(tensors):
        tensors[name] = mx.concatenate(
            [mx.full((1, tensors[name].shape[1]), value, tensors[name].dtype), tensors[name][1:]]
        )

    rewrite_tensors(checkpoint / "model.safetensors", poison)
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    one_line(info, "model.safetensors", name, "NaN or infinite")


def test_non_finite_quantization_scale_is_refused(tmp_path, tiny_4bit):
    checkpoint = Path(shutil.copytree(tiny_4bit, tmp_path / "q4"))
    name = "model.layers.1.self_attn.q_proj.scales"

    def poison(tensors):
        tensors[name] = tensors[name] * mx.array(float("inf"), tensors[name].dtype)

    rewrite_tensors(checkpoint / "model.safetensors", poison)
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    one_line(info, name, "NaN or infinite")


@pytest.mark.parametrize(("dtype", "words"), [
    (mx.int16, "not a float type"),
    (mx.float16, "torch_dtype bfloat16"),
])  # fmt: skip
def test_relabelled_tensor_is_refused(checkpoint, dtype, words):
    name = "model.layers.0.self_attn.k_proj.weight"

    def relabel(tensors):
        tensors[name] = tensors[name].view(dtype)  # the same bytes under another dtype

    rewrite_tensors(checkpoint / "model.safetensors", relabel)
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    one_line(info, name, words)


def test_float32_norms_in_a_bf16_checkpoint_still_load(checkpoint):
    def widen(tensors):
        tensors["model.norm.weight"] = tensors["model.norm.weight"].astype(mx.float32)

    rewrite_tensors(checkpoint / "model.safetensors", widen)
    load_model(checkpoint)


# -- item 10: the shard index ----------------------------------------------------------------------


def sharded(checkpoint: Path, shard_name) -> Path:
    """The checkpoint with its weights listed under ``shard_name`` in an index."""
    names = list(mx.load(str(checkpoint / "model.safetensors")))
    index = {"metadata": {}, "weight_map": {n: shard_name for n in names}}
    (checkpoint / "model.safetensors.index.json").write_text(json.dumps(index))
    return checkpoint


@pytest.mark.parametrize("shard_name", [7, None, ["model.safetensors"], {"a": 1}])
def test_index_with_non_string_shard_names_is_one_line(checkpoint, shard_name):
    with pytest.raises(WeightsError) as info:
        load_model(sharded(checkpoint, shard_name))
    one_line(info, "model.safetensors.index.json", "not the name of a file")


@pytest.mark.parametrize("shard_name", ["../outside.safetensors", "/tmp/x.safetensors",
                                        "sub/../../outside.safetensors", ".."])  # fmt: skip
def test_index_names_outside_the_checkpoint_are_refused(checkpoint, shard_name):
    shutil.copy(checkpoint / "model.safetensors", checkpoint.parent / "outside.safetensors")
    with pytest.raises(WeightsError) as info:
        load_model(sharded(checkpoint, shard_name))
    one_line(info, "model.safetensors.index.json", "not the name of a file")


def test_shard_linked_outside_the_checkpoint_is_refused(checkpoint):
    outside = checkpoint.parent / "elsewhere.safetensors"
    sharded(checkpoint, "shard-1.safetensors")
    shutil.move(checkpoint / "model.safetensors", outside)
    (checkpoint / "shard-1.safetensors").symlink_to(outside)
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    one_line(info, "shard-1.safetensors", "outside the checkpoint folder")


def test_hugging_face_cache_links_into_blobs_still_load(tmp_path, tiny_bf16):
    # snapshots/<rev>/<file> -> ../../blobs/<hash>: how the hub client lays out every download.
    repo = tmp_path / "models--meta--tiny"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for index, source in enumerate(
        sorted(tiny_bf16.glob("*.json")) + [tiny_bf16 / "model.safetensors"]
    ):
        blob = repo / "blobs" / f"blob{index}"
        shutil.copy(source, blob)
        (snapshot / source.name).symlink_to(Path("../../blobs") / blob.name)
    load_model(snapshot)
