"""Faults: what the one-shot CLI took as input without the checks a file to attach passes.

``--summarize`` followed a symbolic link out and, like piped text, accepted NUL-laden binary and
3 MB of random bytes (summarised in 301 parts). ``--demo --model DIR`` ran the demo and said
nothing about DIR. Each is now one line, before any model is loaded.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from llama_chat.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def cli(args: list[str], home: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLAMA_CHAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "llama_chat", *args],
        capture_output=True, env=env, timeout=60, cwd=ROOT, **kwargs,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess) -> str:
    stderr = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in stderr, stderr
    assert result.stdout == b""  # refused before any model was loaded or answered
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llama-chat: "), stderr
    return lines[0]


BINARY = b"PK\x03\x04\x00\x00binary\x00zip"
RANDOM_3MB = random.Random(0).randbytes(3_000_000)


def test_summarising_a_link_out_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_text("x " * 100)
    (tmp_path / "notes.txt").symlink_to(tmp_path / "secret.txt")
    error = one_line_error(cli(["--demo", "--summarize", str(tmp_path / "notes.txt")], tmp_path))
    assert "symbolic link" in error


@pytest.mark.parametrize(("data", "why"), [
    (BINARY, "binary file (it contains NUL bytes)"),
    (RANDOM_3MB, "the limit is 2,000,000 bytes"),
    (b"caf\xe9 " * 100, "not UTF-8 text"),
], ids=["nul-bytes", "3MB-random", "latin-1"])  # fmt: skip
def test_summarising_what_is_no_text_document_is_refused(tmp_path, data, why):
    (tmp_path / "doc.txt").write_bytes(data)
    error = one_line_error(cli(["--demo", "--summarize", str(tmp_path / "doc.txt")], tmp_path))
    assert why in error


@pytest.mark.parametrize(("data", "why"), [
    (BINARY, "binary file (it contains NUL bytes)"),
    (RANDOM_3MB, "standard input: more than 2,000,000 bytes"),
    (b"caf\xe9 " * 100, "not UTF-8 text"),
], ids=["nul-bytes", "3MB-random", "latin-1"])  # fmt: skip
def test_piped_text_that_is_no_text_document_is_refused(tmp_path, data, why):
    error = one_line_error(cli(["--demo", "-p", "Summarise"], tmp_path, input=data))
    assert why in error


def test_demo_and_model_together_are_refused(tmp_path):
    # Item 17: argparse's own one-line error; nothing is loaded.
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--demo", "--model", str(tmp_path), "-p", "hi"])
    assert exit_info.value.code == 2


def test_demo_and_model_together_say_why_in_one_line(tmp_path):
    result = cli(["--demo", "--model", str(tmp_path), "-p", "hi"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "llama-chat: argument --model: not allowed with argument --demo (see llama-chat --help)"
    )
