"""ModelConfig: every field read from config.json, checked against transformers' own reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlx_model import ConfigError, ModelConfig, QuantSpec
from mlx_model.config import RopeScaling
from mlx_model.rope import rope_periods

# Meta's config.json for Llama 3.2 3B Instruct, as published (transformers 4.45 layout).
LLAMA_32_3B_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009],
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 3072,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 24,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}
REQUIRED = [
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
]


def write_config(directory: Path, data: dict, generation: dict | None = None) -> Path:
    path = directory / "config.json"
    path.write_text(json.dumps(data))
    if generation is not None:
        (directory / "generation_config.json").write_text(json.dumps(generation))
    return path


def hf_config(path: Path):
    from transformers import LlamaConfig

    return LlamaConfig.from_pretrained(path.parent)


def test_every_field_matches_transformers_reading_of_the_3b_config(tmp_path):
    path = write_config(tmp_path, LLAMA_32_3B_CONFIG)
    ours = ModelConfig.from_file(path)
    theirs = hf_config(path)
    for name in (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "intermediate_size",
        "vocab_size",
        "rms_norm_eps",
        "max_position_embeddings",
        "tie_word_embeddings",
        "bos_token_id",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name
    rope = theirs.rope_parameters
    assert ours.rope_theta == rope["rope_theta"]
    assert ours.rope_scaling == RopeScaling(
        factor=rope["factor"],
        low_freq_factor=rope["low_freq_factor"],
        high_freq_factor=rope["high_freq_factor"],
        original_max_position_embeddings=rope["original_max_position_embeddings"],
    )
    assert list(ours.eos_token_ids) == theirs.eos_token_id
    assert ours.quantization is None
    assert ours.torch_dtype == "bfloat16"


def test_kv_bytes_per_token_is_112_kib_for_3b_in_bf16():
    config = ModelConfig.from_dict(LLAMA_32_3B_CONFIG)
    assert config.kv_bytes_per_token == 112 * 1024


def test_defaults_match_transformers_when_optional_fields_are_absent(tmp_path):
    data = {
        k: v for k, v in LLAMA_32_3B_CONFIG.items() if k not in ("head_dim", "num_key_value_heads")
    }
    path = write_config(tmp_path, data)
    ours = ModelConfig.from_file(path)
    theirs = hf_config(path)
    assert ours.head_dim == theirs.head_dim == 128
    assert ours.num_key_value_heads == theirs.num_key_value_heads == 24


@pytest.mark.parametrize("field", REQUIRED)
def test_missing_required_field_names_the_field_and_the_file(tmp_path, field):
    data = {k: v for k, v in LLAMA_32_3B_CONFIG.items() if k != field}
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_file(path)
    assert repr(field) in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_hidden_layers": -2}, "num_hidden_layers"),
        ({"vocab_size": "128256"}, "vocab_size"),
        ({"intermediate_size": True}, "intermediate_size"),
        ({"intermediate_size": 8192.5}, "intermediate_size"),
        ({"rms_norm_eps": 0}, "rms_norm_eps"),
        ({"num_key_value_heads": 7}, "num_key_value_heads"),
        ({"head_dim": 127}, "head_dim"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
        ({"model_type": "mistral"}, "model_type"),
        ({"hidden_act": "gelu"}, "hidden_act"),
        ({"attention_bias": True}, "attention_bias"),
        ({"mlp_bias": True}, "mlp_bias"),
        ({"rope_theta": -1.0}, "rope_theta"),
        ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "rope_type"),
        ({"rope_scaling": {"rope_type": "llama3", "factor": 0}}, "factor"),
        ({"rope_scaling": "llama3"}, "rope_scaling"),
        ({"eos_token_id": "128009"}, "eos_token_id"),
        ({"eos_token_id": []}, "eos_token_id"),
        ({"bos_token_id": 1.5}, "bos_token_id"),
        ({"quantization": {"bits": 7, "group_size": 64}}, "bits"),
        ({"quantization": {"bits": 4, "group_size": 48}}, "group_size"),
        ({"quantization": {"bits": 4, "group_size": 64, "mode": "mxfp4"}}, "mode"),
        ({"quantization": [4, 64]}, "quantization"),
        (
            {
                "quantization": {
                    "bits": 4,
                    "group_size": 64,
                    "model.embed_tokens": {"bits": 9, "group_size": 64},
                }
            },
            "model.embed_tokens",
        ),
    ],
)
def test_bad_values_are_rejected_with_the_field_and_file(tmp_path, changes, mentions):
    path = write_config(tmp_path, {**LLAMA_32_3B_CONFIG, **changes})
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_file(path)
    assert mentions in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff\xfe"])
def test_unreadable_config_file_is_a_config_error(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match="config.json"):
        ModelConfig.from_file(path)


def test_missing_config_file_says_a_checkpoint_needs_one(tmp_path):
    with pytest.raises(ConfigError, match="config.json"):
        ModelConfig.from_file(tmp_path / "config.json")


def test_rope_parameters_and_rope_theta_with_rope_scaling_read_the_same(tmp_path):
    # transformers v5 writes one rope_parameters block; save the 3B config through it.
    from transformers import LlamaConfig

    LlamaConfig(**LLAMA_32_3B_CONFIG).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "rope_parameters" in saved and "rope_scaling" not in saved
    v5 = ModelConfig.from_file(tmp_path / "config.json")
    v4 = ModelConfig.from_dict(LLAMA_32_3B_CONFIG)
    assert (v5.rope_theta, v5.rope_scaling) == (v4.rope_theta, v4.rope_scaling)
    assert v5.rope_scaling is not None


def test_rope_periods_equal_transformers_llama3_inverse_frequencies():
    import torch
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    hf = LlamaConfig(**LLAMA_32_3B_CONFIG)
    inv_freq, _ = ROPE_INIT_FUNCTIONS["llama3"](hf, torch.device("cpu"))
    config = ModelConfig.from_dict(LLAMA_32_3B_CONFIG)
    periods = np.array(rope_periods(config.head_dim, config.rope_theta, config.rope_scaling))
    np.testing.assert_allclose(1.0 / periods, inv_freq.numpy(), rtol=1e-6)


def test_default_rope_type_means_no_scaling():
    data = {**LLAMA_32_3B_CONFIG, "rope_scaling": {"rope_type": "default"}}
    assert ModelConfig.from_dict(data).rope_scaling is None
    no_block = {k: v for k, v in LLAMA_32_3B_CONFIG.items() if k != "rope_scaling"}
    assert ModelConfig.from_dict(no_block).rope_scaling is None


@pytest.mark.parametrize("key", ["quantization", "quantization_config"])
def test_quantization_block_is_read_under_either_name(key):
    data = {**LLAMA_32_3B_CONFIG, key: {"group_size": 64, "bits": 4}}
    spec = ModelConfig.from_dict(data).quantization
    assert spec == QuantSpec(bits=4, group_size=64)
    assert spec.for_module("model.layers.0.mlp.up_proj") == (4, 64)


def test_quantization_per_layer_overrides_in_mlx_lm_form():
    block = {
        "group_size": 64,
        "bits": 4,
        "model.embed_tokens": {"group_size": 32, "bits": 8},
        "model.layers.0.mlp.down_proj": False,
    }
    spec = ModelConfig.from_dict({**LLAMA_32_3B_CONFIG, "quantization": block}).quantization
    assert spec.for_module("model.embed_tokens") == (8, 32)
    assert spec.for_module("model.layers.0.mlp.down_proj") is None
    assert spec.for_module("model.layers.1.mlp.down_proj") == (4, 64)
    # Written back the way it was read, so a converted checkpoint round-trips.
    again = ModelConfig.from_dict({**LLAMA_32_3B_CONFIG, "quantization": spec.to_dict()})
    assert again.quantization == spec


def test_eos_ids_from_config_are_merged_with_generation_config(tmp_path):
    path = write_config(
        tmp_path,
        {**LLAMA_32_3B_CONFIG, "eos_token_id": 128001},
        generation={"eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000},
    )
    assert ModelConfig.from_file(path).eos_token_ids == (128001, 128008, 128009)


def test_eos_ids_come_from_generation_config_alone(tmp_path):
    data = {k: v for k, v in LLAMA_32_3B_CONFIG.items() if k != "eos_token_id"}
    path = write_config(tmp_path, data, generation={"eos_token_id": 128009})
    assert ModelConfig.from_file(path).eos_token_ids == (128009,)


def test_bad_generation_config_names_that_file(tmp_path):
    path = write_config(tmp_path, LLAMA_32_3B_CONFIG)
    (tmp_path / "generation_config.json").write_text("{oops")
    with pytest.raises(ConfigError, match="generation_config.json"):
        ModelConfig.from_file(path)


def test_unknown_keys_are_ignored():
    extra = {**LLAMA_32_3B_CONFIG, "some_future_field": {"a": 1}, "use_cache": False}
    assert ModelConfig.from_dict(extra) == ModelConfig.from_dict(LLAMA_32_3B_CONFIG)
