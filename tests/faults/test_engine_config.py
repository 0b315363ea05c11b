"""Faults: config.json numbers that passed the checks and failed later, slowly or obscurely.

NaN and Infinity (which json.loads accepts) for rms_norm_eps and rope_theta, eos ids outside the
vocabulary, a billion layers (allocated for 30 s before failing), and JSON nested so deep that
json.loads raised RecursionError.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlx_model import ConfigError, ModelConfig
from mlx_model.testing import tiny_config_dict


def write(directory: Path, text: str, name: str = "config.json") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def with_changes(**changes) -> str:
    return json.dumps({**tiny_config_dict(), **changes})


def refused(path: Path, field: str) -> str:
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_file(path)
    message = str(info.value)
    assert str(path) in message and field in message and "\n" not in message
    return message


@pytest.mark.parametrize("field", ["rms_norm_eps", "rope_theta"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_floats_are_refused(tmp_path, field, value):
    text = with_changes(**{field: "PLACEHOLDER"}).replace('"PLACEHOLDER"', value)
    refused(write(tmp_path, text), field)


def test_non_finite_rope_scaling_factor_is_refused(tmp_path):
    scaling = {"rope_type": "llama3", "factor": "X", "original_max_position_embeddings": 8192}
    text = with_changes(rope_scaling=scaling).replace('"X"', "Infinity")
    refused(write(tmp_path, text), "factor")


def test_equal_rope_band_factors_are_refused(tmp_path):
    # Llama 3's smoothing divides by high_freq_factor - low_freq_factor.
    scaling = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 2.0,
        "high_freq_factor": 2.0,
    }
    refused(write(tmp_path, with_changes(rope_scaling=scaling)), "high_freq_factor")


@pytest.mark.parametrize("eos", [-1, 10**30, 1e30, [2, -1], "VOCAB"])
def test_eos_ids_outside_the_vocabulary_are_refused(tmp_path, eos):
    eos = tiny_config_dict()["vocab_size"] if eos == "VOCAB" else eos
    refused(write(tmp_path, with_changes(eos_token_id=eos)), "eos_token_id")


def test_generation_config_eos_outside_the_vocabulary_is_refused(tmp_path):
    path = write(tmp_path, with_changes())
    gen = write(tmp_path, json.dumps({"eos_token_id": -1}), "generation_config.json")
    with pytest.raises(ConfigError, match="generation_config.json.*eos_token_id"):
        ModelConfig.from_file(path)
    assert gen.exists()


def test_bos_outside_the_vocabulary_is_refused(tmp_path):
    refused(write(tmp_path, with_changes(bos_token_id=-5)), "bos_token_id")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_hidden_layers", 1_000_000_000),
        ("num_hidden_layers", 1025),
        ("hidden_size", 1 << 17),
        ("vocab_size", (1 << 20) + 1),
        ("num_attention_heads", 2048),
        ("intermediate_size", 1 << 40),
        ("max_position_embeddings", 1 << 25),
    ],
)
def test_absurd_sizes_are_refused_at_once(tmp_path, field, value):
    start = time.perf_counter()
    refused(write(tmp_path, with_changes(**{field: value})), field)
    assert time.perf_counter() - start < 1.0


def test_a_billion_layers_never_reach_the_model(tmp_path):
    import mlx_model

    (tmp_path / "config.json").write_text(with_changes(num_hidden_layers=1_000_000_000))
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        mlx_model.load(tmp_path)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("name", ["config.json", "generation_config.json"])
def test_deeply_nested_json_is_a_one_line_config_error(tmp_path, name):
    config = write(tmp_path, with_changes())
    deep = write(tmp_path, "[" * 100_000 + "]" * 100_000, name)
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_file(config)
    assert str(deep) in str(info.value) and "\n" not in str(info.value)


def test_quantization_bits_as_a_float_are_refused(tmp_path):
    text = with_changes(quantization={"bits": 8.0, "group_size": 64})
    refused(write(tmp_path, text), "bits")
