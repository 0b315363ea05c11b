"""The prompt_lookup setting: on by default, off from the settings file or --no-prompt-lookup,
and carried to the conversation's generation settings."""

from __future__ import annotations

import json
from pathlib import Path

from llama_chat.chat.conversation import GenerationSettings
from llama_chat.cli import _with_overrides, build_parser
from llama_chat.settings import Settings, load_settings


def test_prompt_lookup_is_on_by_default():
    assert Settings().prompt_lookup is True
    assert GenerationSettings.from_settings(Settings()).prompt_lookup is True


def test_settings_file_turns_prompt_lookup_off(tmp_path: Path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"prompt_lookup": False}))
    settings, warnings = load_settings(path)
    assert warnings == []
    assert GenerationSettings.from_settings(settings).prompt_lookup is False


def test_settings_file_rejects_a_non_boolean_prompt_lookup(tmp_path: Path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"prompt_lookup": "yes"}))
    settings, warnings = load_settings(path)
    assert settings.prompt_lookup is True
    assert len(warnings) == 1 and "prompt_lookup" in warnings[0]


def test_no_prompt_lookup_flag_overrides_the_setting():
    parser = build_parser()
    assert _with_overrides(Settings(), parser.parse_args([])).prompt_lookup is True
    flagged = _with_overrides(Settings(), parser.parse_args(["--no-prompt-lookup"]))
    assert flagged.prompt_lookup is False
