"""Settings that passed validation used to crash at generation: one source of sampling limits."""

from __future__ import annotations

import json

import pytest

from llama_chat.settings import SAMPLING_KEYS, Settings, load_settings, sampling_params
from mlx_model import SAMPLING_LIMITS


@pytest.mark.parametrize(
    ("key", "value"),
    [("min_p", 1.0), ("top_p", 0.0), ("temperature", float("nan")), ("top_k", 2.5)],
)
def test_a_sampling_value_the_engine_refuses_is_refused_on_load(tmp_path, key, value):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({key: value, "max_tokens": 77}))
    settings, warnings = load_settings(path)
    assert getattr(settings, key) == getattr(Settings(), key)
    assert settings.max_tokens == 77  # the rest of the file is kept
    assert any(key in w and SAMPLING_LIMITS[key].expected in w for w in warnings)
    sampling_params(settings)  # and what was kept builds engine parameters without raising


def test_every_sampling_setting_takes_its_limits_from_the_engine():
    assert set(SAMPLING_KEYS) == {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "repetition_penalty",
        "seed",
    }
    for key in SAMPLING_KEYS:
        with pytest.raises(ValueError):
            SAMPLING_LIMITS[key].check(True)
