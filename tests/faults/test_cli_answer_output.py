"""``llama-chat -p``: the answer reaches the terminal without control characters, and an output
that cannot take it (``> /dev/full``, a closed stdout) ends in one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlx_model
from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore
from tests.conftest import meta_tokenizer_model
from tests.scripted import chain_for, make_scripted_checkpoint

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "Look\x1b]52;c;ZXZpbA==\x07\x1b[2J done"


@pytest.fixture(scope="module")
def escaping_checkpoint(tmp_path_factory) -> Path:
    """A model whose every answer sets the clipboard and clears the screen."""
    tokenizer = mlx_model.Tokenizer.from_tiktoken_file(meta_tokenizer_model())
    header_end = tokenizer.encode("\n\n")[0]  # the last token of every assistant header
    chain = chain_for([*tokenizer.encode(ANSWER), tokenizer.eot_id], header_end)
    return make_scripted_checkpoint(
        tmp_path_factory.mktemp("escaping"), meta_tokenizer_model(), chain
    )


def run(args: list[str], tmp_path: Path, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLAMA_CHAT_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "llama_chat", *args], env=env, timeout=180, cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_an_answer_with_escapes_is_printed_without_them(escaping_checkpoint, tmp_path):
    result = run(["--model", str(escaping_checkpoint), "-p", "hi", "--temp", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Look]52;c;ZXZpbA==[2J done\n"


def test_a_full_output_is_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        result = run(["--demo", "-p", "hi", "--max-tokens", "8"], tmp_path, stdout=full)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "demo model" not in line]
    assert error == "llama-chat: cannot write to standard output: No space left on device"


def test_a_closed_output_is_one_line(tmp_path):
    env = {**os.environ, "LLAMA_CHAT_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    script = f"{sys.executable} -m llama_chat --demo -p hi --max-tokens 8 >&- < /dev/null"
    result = subprocess.run(
        ["bash", "-c", script], env=env, timeout=180, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "demo model" not in line]
    assert "standard output is closed" in error


def test_an_export_to_a_full_output_is_one_line(tmp_path):
    paths = AppPaths.from_env({"LLAMA_CHAT_HOME": str(tmp_path / "home")}).ensure()
    with SessionStore.open(paths.sessions_db) as store:
        info = store.create_session(system_prompt="", settings={}, model="m", quant="4bit")
        store.add_message(info.id, "user", "A question " * 2000)  # more than a buffer
    with open("/dev/full", "w") as full:
        result = run(["export", "--format", "json"], tmp_path, stdout=full)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr == "llama-chat: cannot write to standard output: No space left on device\n"
