"""The engine's memory estimate, checked against real MLX arrays and published checkpoint sizes."""

from __future__ import annotations

import dataclasses
import json
import time

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

import mlx_model
from mlx_model import LLAMA_3_2_3B, ModelConfig, QuantSpec, memory_needed, prefill
from mlx_model.testing import LLAMA_3B_SHAPE, tiny_config_dict

# meta-llama/Llama-3.2-3B-Instruct's config.json, verbatim: the oracle for the preset.
META_3B_CONFIG = json.loads(
    '{"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,'
    ' "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 128,'
    ' "hidden_act": "silu", "hidden_size": 3072, "initializer_range": 0.02,'
    ' "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,'
    ' "model_type": "llama", "num_attention_heads": 24, "num_hidden_layers": 28,'
    ' "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,'
    ' "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,'
    ' "original_max_position_embeddings": 8192, "rope_type": "llama3"},'
    ' "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",'
    ' "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256}'
)


def parameter_bytes(model) -> int:
    return sum(v.nbytes for _, v in tree_flatten(model.parameters()))


@pytest.mark.parametrize(
    ("fixture", "bits"), [("tiny_bf16", None), ("tiny_4bit", 4), ("tiny_8bit", 8)]
)
def test_weight_bytes_match_the_checkpoint_and_the_loaded_model(
    request, fixture: str, bits: int | None
) -> None:
    checkpoint = request.getfixturevalue(fixture)
    estimate = memory_needed(ModelConfig.from_file(checkpoint / "config.json"), bits, 1024, None)
    stored = mx.load(str(checkpoint / "model.safetensors"))
    assert estimate.weights_bytes == sum(array.nbytes for array in stored.values())
    # Loaded, only the tiny norm vectors may change precision (float32 activations on a CPU).
    model, _ = mlx_model.load(checkpoint)
    assert abs(parameter_bytes(model) - estimate.weights_bytes) < 0.001 * estimate.weights_bytes


@pytest.mark.parametrize("kv_bits", [None, 8])
def test_kv_bytes_match_a_real_filled_cache(tiny_bf16, kv_bits: int | None) -> None:
    model, _ = mlx_model.load(tiny_bf16)
    cache = model.make_cache(kv_bits=kv_bits)
    mx.eval(prefill(model, cache, list(range(1000, 1256))))  # exactly one 256-token block
    assert cache.length == 256
    assert memory_needed(model.config, None, 256, kv_bits).kv_bytes == cache.nbytes


def test_llama_3b_numbers() -> None:
    config = LLAMA_3_2_3B
    kv = memory_needed(config, 4, 32 * 1024, None).kv_bytes
    assert kv == config.kv_bytes_per_token * 32 * 1024 == 3.5 * 2**30  # 112 KiB per token
    # Sizes of the published mlx-community checkpoints (their model.safetensors files).
    for bits, published in ((4, 1.81e9), (8, 3.41e9), (None, 6.43e9)):
        weights = memory_needed(config, bits, 8192, None).weights_bytes
        assert abs(weights - published) / published < 0.02, (bits, weights)


def test_the_3b_preset_is_metas_config() -> None:
    assert ModelConfig.from_dict(META_3B_CONFIG) == LLAMA_3_2_3B
    assert ModelConfig.from_dict(tiny_config_dict(LLAMA_3B_SHAPE)) == LLAMA_3_2_3B


def test_the_estimate_is_arithmetic_not_a_loop_over_layers() -> None:
    huge = dataclasses.replace(LLAMA_3_2_3B, num_hidden_layers=10**9)
    started = time.perf_counter()
    estimate = memory_needed(huge, 4, 1024, None)
    assert time.perf_counter() - started < 1.0
    one = memory_needed(dataclasses.replace(LLAMA_3_2_3B, num_hidden_layers=1), 4, 1024, None)
    two = memory_needed(dataclasses.replace(LLAMA_3_2_3B, num_hidden_layers=2), 4, 1024, None)
    per_layer = two.weights_bytes - one.weights_bytes
    assert estimate.weights_bytes == one.weights_bytes + (10**9 - 1) * per_layer


def test_a_per_layer_override_costs_only_that_layer() -> None:
    spec = QuantSpec(bits=4, group_size=64, overrides={"model.layers.5.mlp.down_proj": (8, 64)})
    mixed = dataclasses.replace(LLAMA_3_2_3B, quantization=spec)
    plain = memory_needed(LLAMA_3_2_3B, 4, 0, None).weights_bytes
    h, inter = LLAMA_3_2_3B.hidden_size, LLAMA_3_2_3B.intermediate_size
    # 4 more bits per entry of one (hidden x intermediate) matrix; same scales and biases.
    assert memory_needed(mixed, 4, 0, None).weights_bytes - plain == h * inter * 4 // 8
