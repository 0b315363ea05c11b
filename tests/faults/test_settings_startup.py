"""Startup problems with the app's folders and settings file: one line, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llama_chat import paths as paths_module
from llama_chat.paths import AppDirError, AppPaths, StartupError
from llama_chat.settings import Settings, SettingsError, load_settings


def test_a_settings_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"temperature": 0.2}).encode())
    settings, warnings = load_settings(path)
    assert (settings.temperature, warnings) == (0.2, [])
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # not moved aside


def test_an_invalid_settings_file_that_cannot_be_moved_is_one_startup_error(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json")

    def read_only_folder(source, target) -> None:
        # What rename(2) answers in a folder the user cannot write (tests run as root, for
        # whom a chmod would not stop it).
        raise PermissionError(13, "Permission denied", str(source))

    monkeypatch.setattr(paths_module.os, "replace", read_only_folder)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert isinstance(info.value, StartupError)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "Permission denied" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_invalid_settings_file_in_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "settings.json").write_text("{ not json")
    folder.chmod(0o500)
    try:
        with pytest.raises(SettingsError, match="could not be moved aside"):
            load_settings(folder / "settings.json")
    finally:
        folder.chmod(0o700)


def test_a_home_that_is_a_file_is_one_startup_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    paths = AppPaths.from_env({"LLAMA_CHAT_HOME": str(home)})
    with pytest.raises(AppDirError) as info:
        paths.ensure()
    assert isinstance(info.value, StartupError)
    assert "\n" not in str(info.value) and str(home) in str(info.value)
    assert "LLAMA_CHAT_HOME" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_home_is_one_startup_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o500)
    try:
        with pytest.raises(AppDirError, match="Cannot create the folder"):
            AppPaths.from_env({"LLAMA_CHAT_HOME": str(home)}).ensure()
    finally:
        home.chmod(0o700)


def test_defaults_still_load_when_there_is_no_file(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "missing.json") == (Settings(), [])
