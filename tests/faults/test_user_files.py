"""Faults: files the user (or another program) controls that were not files at all.

A named pipe as settings.json, presets.json, sessions.db, a KV cache file, an imported chat or a
file to summarise hung for ever (the TUI sat at "loading…", and Ctrl+Q did not quit); /dev/zero
piped in or imported grew until the kernel killed the process; settings.json nested 100,000
deep raised RecursionError at every start. Every one is now refused in one line, at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llama_chat.chat.presets import PresetLibrary
from llama_chat.settings import Settings, load_settings
from llama_chat.store.errors import SessionStoreError
from llama_chat.store.sessions import SessionStore
from mlx_model.files import RefusedFileError, read_bytes, read_stream
from tests.faults.hostile_files import python_outcome, returns_promptly

ROOT = Path(__file__).resolve().parents[2]


def cli(args: list[str], home: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLAMA_CHAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "llama_chat", *args],
        capture_output=True, text=True, env=env, timeout=60, cwd=ROOT, **kwargs,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llama-chat: "), result.stderr
    return lines[0]


# -- the reader itself ----------------------------------------------------------------------


def test_the_reader_refuses_a_pipe_a_device_a_folder_and_too_many_bytes(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "big").write_bytes(b"x" * 11)
    for path, why in [
        (tmp_path / "pipe", "named pipe"),
        (Path("/dev/zero"), "character device"),
        (tmp_path, "a folder"),
        (tmp_path / "big", "11 bytes, over the 10 bytes limit"),
    ]:
        with pytest.raises(RefusedFileError) as info:
            returns_promptly(tmp_path / "pipe", lambda p=path: read_bytes(p, 10))
        assert str(info.value) == f"{path}: {info.value.strerror}" and why in str(info.value)


def test_an_endless_stream_is_cut_at_its_limit():
    with open("/dev/zero", "rb") as endless, pytest.raises(RefusedFileError, match="more than"):
        read_stream(endless, "standard input", 1000)


# -- settings.json and presets.json ---------------------------------------------------------------


def test_a_settings_pipe_gives_the_defaults_and_one_warning(tmp_path):
    os.mkfifo(tmp_path / "settings.json")
    settings, warnings = returns_promptly(
        tmp_path / "settings.json", lambda: load_settings(tmp_path / "settings.json")
    )
    assert settings == Settings()
    assert len(warnings) == 1 and "named pipe" in warnings[0] and "\n" not in warnings[0]


def test_an_oversized_settings_file_is_not_read(tmp_path):
    with open(tmp_path / "settings.json", "wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse
    settings, warnings = load_settings(tmp_path / "settings.json")
    assert settings == Settings() and "over the 1 MiB limit" in warnings[0]


def test_settings_nested_100000_deep_start_from_defaults_in_one_line(tmp_path):
    # Item 11: json.loads raised RecursionError; presets.json handled it, settings.json did not.
    path = tmp_path / "settings.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    settings, warnings = load_settings(path)
    assert settings == Settings()
    assert len(warnings) == 1 and "nested too deeply" in warnings[0]
    assert not path.exists()  # moved aside, like any file that is not settings


def test_a_presets_pipe_gives_no_user_presets_and_one_warning(tmp_path):
    os.mkfifo(tmp_path / "presets.json")
    library = returns_promptly(
        tmp_path / "presets.json", lambda: PresetLibrary.load(tmp_path / "presets.json")
    )
    assert library.user_presets() == [] and "named pipe" in library.warnings[0]


# -- sessions.db and the KV cache files -----------------------------------------------------------


def test_a_sessions_pipe_is_one_line_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "sessions.db")
    with pytest.raises(SessionStoreError) as info:
        returns_promptly(
            tmp_path / "sessions.db", lambda: SessionStore.open(tmp_path / "sessions.db")
        )
    message = str(info.value)
    assert "named pipe" in message and "sessions.db" in message and "\n" not in message


def test_a_cache_pipe_is_dropped_not_waited_on(tmp_path, tiny_f32):
    # In a child process: mx.load on a pipe holds the interpreter, no thread can watch it.
    code = f"""
import os
from pathlib import Path
import mlx_model
from llama_chat.store.kv_files import CacheStore
model, _ = mlx_model.load({str(tiny_f32)!r})
store = CacheStore(Path({str(tmp_path)!r}), 1 << 30)
fifo = store.path_for(1, "m", "4bit", [1, 2, 3])
os.mkfifo(fifo)
print(store.load_best(1, "m", "4bit", [1, 2, 3], model), os.path.exists(fifo))
"""
    result = python_outcome(code)
    assert result.stdout.split() == ["None", "False"], result.stderr


# -- the CLI: import, --summarize, standard input -------------------------------------------------


def test_importing_a_pipe_is_one_line(tmp_path):
    os.mkfifo(tmp_path / "x.json")
    assert "named pipe" in one_line_error(cli(["import", str(tmp_path / "x.json")], tmp_path))


def test_importing_a_device_is_one_line(tmp_path):
    # The reader refuses any device before reading; /dev/zero was read until memory ran out.
    assert "character device" in one_line_error(cli(["import", "/dev/zero"], tmp_path))


def test_an_oversized_import_is_one_line(tmp_path):
    with open(tmp_path / "x.json", "wb") as f:
        f.truncate(65 * 1024 * 1024)
    assert "over the 64 MiB limit" in one_line_error(
        cli(["import", str(tmp_path / "x.json")], tmp_path)
    )


def test_summarising_a_pipe_is_one_line(tmp_path):
    os.mkfifo(tmp_path / "notes.txt")
    error = one_line_error(cli(["--demo", "--summarize", str(tmp_path / "notes.txt")], tmp_path))
    assert "not a regular file" in error


def test_endless_standard_input_is_cut_at_the_limit(tmp_path):
    with open("/dev/zero", "rb") as endless:
        result = cli(["--demo", "-p", "x"], tmp_path, stdin=endless)
    assert "standard input: more than 2,000,000 bytes" in one_line_error(result)


def test_settings_written_by_hand_still_load(tmp_path):
    (tmp_path / "settings.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"seed": 7}).encode())
    settings, warnings = load_settings(tmp_path / "settings.json")
    assert (settings.seed, warnings) == (7, [])
