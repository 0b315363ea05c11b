"""Loading checkpoints: strict name/shape checks, sharded files, broken files, and memory."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

from mlx_model import WeightsError, load_model
from mlx_model.testing import make_tiny_checkpoint

Q_PROJ = "model.layers.1.self_attn.q_proj.weight"


@pytest.fixture
def checkpoint(tiny_bf16, tmp_path) -> Path:
    """A private copy of the tiny bf16 checkpoint that a test may break."""
    return Path(shutil.copytree(tiny_bf16, tmp_path / "ckpt"))


def edit_tensors(path: Path, edit) -> None:
    tensors = mx.load(str(path))
    edit(tensors)
    mx.save_safetensors(str(path), tensors, metadata={"format": "mlx"})


def params(model) -> dict[str, mx.array]:
    return dict(tree_flatten(model.parameters()))


def test_missing_tensor_is_named_with_the_file(checkpoint):
    edit_tensors(checkpoint / "model.safetensors", lambda t: t.pop(Q_PROJ))
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    assert Q_PROJ in str(info.value)
    assert "model.safetensors" in str(info.value)


def test_unexpected_tensor_is_named_with_the_file(checkpoint):
    name = "model.layers.0.self_attn.k_norm.weight"

    def add(tensors):
        tensors[name] = mx.ones((64,), dtype=mx.bfloat16)

    edit_tensors(checkpoint / "model.safetensors", add)
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    assert name in str(info.value)
    assert str(checkpoint / "model.safetensors") in str(info.value)


def test_misshapen_tensor_is_named_with_the_file_and_both_shapes(checkpoint):
    def shrink(tensors):
        tensors[Q_PROJ] = tensors[Q_PROJ][:128]

    edit_tensors(checkpoint / "model.safetensors", shrink)
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    message = str(info.value)
    assert Q_PROJ in message and str(checkpoint / "model.safetensors") in message
    assert "(128, 256)" in message and "(256, 256)" in message


def test_exporter_leftovers_are_ignored(checkpoint, tiny_bf16):
    # HF exports may carry rotary inv_freq buffers and a copy of the tied head.
    def add(tensors):
        tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = mx.ones((32,))
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]

    edit_tensors(checkpoint / "model.safetensors", add)
    loaded = params(load_model(checkpoint))
    reference = params(load_model(tiny_bf16))
    assert sorted(loaded) == sorted(reference)


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_safetensors_file_is_a_weights_error(checkpoint, keep):
    path = checkpoint / "model.safetensors"
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(int(size * keep))
    with pytest.raises(WeightsError, match="model.safetensors"):
        load_model(checkpoint)


def test_header_cut_short_is_a_weights_error(checkpoint):
    path = checkpoint / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(WeightsError, match="model.safetensors"):
        load_model(checkpoint)


def write_shards(checkpoint: Path) -> None:
    """Split model.safetensors into two shards with an index, as transformers writes them."""
    single = checkpoint / "model.safetensors"
    tensors = mx.load(str(single))
    names = sorted(tensors)
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    parts = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for shard, part in zip(shard_names, parts, strict=True):
        mx.save_safetensors(
            str(checkpoint / shard), {n: tensors[n] for n in part}, metadata={"format": "mlx"}
        )
        weight_map.update({n: shard for n in part})
    index = {
        "metadata": {"total_size": sum(t.nbytes for t in tensors.values())},
        "weight_map": weight_map,
    }
    (checkpoint / "model.safetensors.index.json").write_text(json.dumps(index))
    single.unlink()


def test_sharded_checkpoint_loads_and_equals_the_single_file(checkpoint, tiny_bf16):
    write_shards(checkpoint)
    sharded = params(load_model(checkpoint))
    single = params(load_model(tiny_bf16))
    assert sorted(sharded) == sorted(single)
    for name, array in single.items():
        assert mx.array_equal(sharded[name], array), name


def test_sharded_missing_tensor_is_still_named(checkpoint):
    write_shards(checkpoint)
    for shard in sorted(checkpoint.glob("model-*.safetensors")):
        if Q_PROJ in mx.load(str(shard)):
            edit_tensors(shard, lambda t: t.pop(Q_PROJ))
    with pytest.raises(WeightsError, match=Q_PROJ.replace(".", r"\.")):
        load_model(checkpoint)


def test_index_that_is_not_json_names_the_index(checkpoint):
    write_shards(checkpoint)
    (checkpoint / "model.safetensors.index.json").write_text('{"weight_map": ')
    with pytest.raises(WeightsError, match="model.safetensors.index.json"):
        load_model(checkpoint)


def test_index_without_weight_map_names_the_index(checkpoint):
    write_shards(checkpoint)
    (checkpoint / "model.safetensors.index.json").write_text('{"metadata": {}}')
    with pytest.raises(WeightsError, match="model.safetensors.index.json"):
        load_model(checkpoint)


def test_index_naming_a_missing_shard_names_the_shard(checkpoint):
    write_shards(checkpoint)
    (checkpoint / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(WeightsError) as info:
        load_model(checkpoint)
    assert "model-00002-of-00002.safetensors" in str(info.value)
    assert "model-00001-of-00002" not in str(info.value)


def test_no_weights_at_all(checkpoint):
    (checkpoint / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="no model.safetensors"):
        load_model(checkpoint)


def test_not_a_directory(checkpoint):
    with pytest.raises(WeightsError, match="not a directory"):
        load_model(checkpoint / "config.json")
    with pytest.raises(WeightsError, match="not a directory"):
        load_model(checkpoint / "nowhere")


def test_quantized_checkpoint_missing_scales_is_named(tiny_8bit, tmp_path):
    checkpoint = Path(shutil.copytree(tiny_8bit, tmp_path / "q8"))
    scales = "model.layers.0.mlp.up_proj.scales"
    edit_tensors(checkpoint / "model.safetensors", lambda t: t.pop(scales))
    # Without its scales the layer looks unquantized, so its packed weight has the wrong shape.
    with pytest.raises(WeightsError, match="model.layers.0.mlp.up_proj"):
        load_model(checkpoint)


def test_loading_does_not_hold_two_copies_of_the_weights(tokenizer_model_path, tmp_path):
    # Embedding 128256 x 512 in bf16 is 131 MB: large enough to see a second copy.
    shape = {
        "hidden_size": 512,
        "intermediate_size": 1024,
        "num_hidden_layers": 2,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "head_dim": 64,
    }
    path = make_tiny_checkpoint(tmp_path / "big", tokenizer_model_path, shape=shape)
    gc.collect()
    mx.clear_cache()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    model = load_model(path)
    peak = mx.get_peak_memory() - before
    weight_bytes = sum(a.nbytes for a in params(model).values())
    assert weight_bytes > 130e6
    assert peak < 1.3 * weight_bytes, (peak / 1e6, weight_bytes / 1e6)


def test_layer_by_layer_random_checkpoint_loads_in_ours_and_mlx_lm(tokenizer_model_path, tmp_path):
    # scripts/make_tiny_model.py writes big random checkpoints one shard per layer; the
    # benchmark runs both engines on them.
    import importlib.util

    from mlx_lm.utils import load_model as lm_load_model

    from mlx_model.testing import TINY_SHAPE

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_tiny_model.py"
    spec = importlib.util.spec_from_file_location("make_tiny_model", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = module.write_sharded_random_checkpoint(
        tmp_path / "sharded", tokenizer_model_path, shape=TINY_SHAPE
    )
    index = json.loads((path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) == TINY_SHAPE["num_hidden_layers"] + 1
    ours = load_model(path, dtype=mx.float32)
    theirs, _ = lm_load_model(path)
    theirs.set_dtype(mx.float32)
    tokens = mx.array([[128000, 791, 4062, 14198, 39935]])
    assert mx.allclose(ours(tokens), theirs(tokens), atol=1e-4).item()
