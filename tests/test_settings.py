"""Settings: defaults, per-key validation, corrupt files moved aside, atomic save."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from llama_chat import paths as paths_module
from llama_chat.paths import AppPaths
from llama_chat.settings import (
    DEFAULT_SYSTEM_PROMPT,
    SettingError,
    Settings,
    load_settings,
    save_settings,
    validate_setting,
)


def test_missing_file_gives_defaults_without_warnings(tmp_path: Path) -> None:
    settings, warnings = load_settings(tmp_path / "settings.json")
    assert settings == Settings()
    assert warnings == []
    assert settings.quant == "4bit"
    assert settings.system_prompt == DEFAULT_SYSTEM_PROMPT


def test_save_then_load_round_trips_every_field(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    changed = Settings(
        quant="8bit",
        model_dir={"bf16": "/models/llama-bf16"},
        temperature=0.0,
        top_p=0.5,
        top_k=40,
        min_p=0.05,
        repetition_penalty=1.1,
        max_tokens=64,
        seed=1234,
        system_prompt="Réponds en français.",
        context_limit=32768,
        kv_bits=8,
        theme="nord",
        tools=True,
        allowed_folders=["~/notes"],
        offline=True,
        cache_budget_gb=0.5,
        keys={"edit_last": "ctrl+u"},
        prompt_lookup=False,
        rolling_memory=True,
    )
    # Every field differs from its default, so a field the writer or reader forgets shows up.
    defaults = Settings()
    for f in dataclasses.fields(Settings):
        assert getattr(changed, f.name) != getattr(defaults, f.name), f.name
    save_settings(changed, path)
    loaded, warnings = load_settings(path)
    assert warnings == []
    assert loaded == changed


def test_bad_value_names_key_and_value_and_falls_back_only_for_that_key(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"temperature": "hot", "top_k": 12, "quant": "3bit"}))
    settings, warnings = load_settings(path)
    assert settings.temperature == Settings().temperature
    assert settings.quant == "4bit"
    assert settings.top_k == 12  # the good key survives its bad neighbours
    assert len(warnings) == 2
    temp_warning = next(w for w in warnings if "temperature" in w)
    assert "'hot'" in temp_warning and "0.6" in temp_warning
    quant_warning = next(w for w in warnings if "quant" in w)
    assert "'3bit'" in quant_warning and '"8bit"' in quant_warning


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("temperature", True),  # bool is not a number here
        ("temperature", -0.1),
        ("top_p", 0.0),
        ("top_k", 1.5),
        ("max_tokens", 0),
        ("seed", -1),
        ("context_limit", 10),
        ("kv_bits", 4),
        ("offline", "yes"),
        ("allowed_folders", "/tmp"),
        ("model_dir", {"2bit": "/x"}),
        ("theme", ""),
        ("cache_budget_gb", float("nan")),
    ],
)
def test_validate_setting_rejects(key: str, value: object) -> None:
    with pytest.raises(SettingError) as info:
        validate_setting(key, value)
    assert info.value.key == key
    assert key in str(info.value)


def test_validate_setting_normalises() -> None:
    assert validate_setting("context_limit", 8192.0) == 8192
    assert isinstance(validate_setting("temperature", 1), float)
    assert validate_setting("seed", None) is None
    assert validate_setting("kv_bits", 8) == 8


def test_unknown_keys_are_warned_and_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"temprature": 0.2, "top_p": 0.8}))
    settings, warnings = load_settings(path)
    assert settings.top_p == 0.8
    assert settings.temperature == Settings().temperature
    assert len(warnings) == 1 and "'temprature'" in warnings[0]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe garbage"])
def test_corrupt_file_is_moved_aside_not_overwritten(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    settings, warnings = load_settings(path)
    assert settings == Settings()
    assert not path.exists()
    [moved] = list(tmp_path.glob("settings.json.corrupt-*"))
    assert moved.read_bytes() == content
    assert len(warnings) == 1 and str(moved) in warnings[0]


def test_save_is_atomic_when_the_write_fails(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(top_k=5), path)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(paths_module.os, "replace", failing_replace)
    with pytest.raises(OSError):
        save_settings(Settings(top_k=7), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp file left


def test_app_paths_honour_home_override_and_create_nothing_until_ensure(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app_paths = AppPaths.from_env({"LLAMA_CHAT_HOME": str(home)})
    assert app_paths.data_dir == home / "data"
    assert app_paths.config_dir == home / "config"
    assert app_paths.cache_dir == home / "cache"
    assert app_paths.settings_file == home / "config" / "settings.json"
    assert app_paths.sessions_db == home / "data" / "sessions.db"
    assert not home.exists()
    app_paths.ensure()
    assert app_paths.data_dir.is_dir() and app_paths.kv_cache_dir.is_dir()


def test_app_paths_default_to_platform_dirs() -> None:
    app_paths = AppPaths.from_env({})
    for directory in (app_paths.data_dir, app_paths.config_dir, app_paths.cache_dir):
        assert "llama-chat" in directory.parts
    assert os.fspath(app_paths.data_dir) != os.fspath(app_paths.cache_dir)
