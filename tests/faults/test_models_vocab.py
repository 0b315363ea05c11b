"""A checkpoint whose config.json and tokenizer disagree on the vocabulary is refused at load,
with one line naming both files and both sizes (it used to crash in prefill or in decoding)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlx_model
from mlx_model.testing import make_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vocab_1000(tmp_path_factory, tokenizer_model_path) -> Path:
    # Weights and config agree (a 1000-row embedding, stop ids inside it); only the tokenizer
    # is bigger.
    checkpoint = make_tiny_checkpoint(
        tmp_path_factory.mktemp("vocab-1000"),
        tokenizer_model_path,
        config_overrides={"vocab_size": 1000, "eos_token_id": 999, "bos_token_id": 998},
    )
    (checkpoint / "generation_config.json").write_text('{"eos_token_id": 999}')
    return checkpoint


@pytest.fixture
def truncated_tokenizer(tmp_path: Path, tiny_bf16: Path) -> Path:
    checkpoint = shutil.copytree(tiny_bf16, tmp_path / "truncated")
    model_file = checkpoint / "original" / "tokenizer.model"
    lines = model_file.read_text().splitlines(keepends=True)
    model_file.write_text("".join(lines[:1000]))  # ranks 0..999: every single byte, few merges
    return checkpoint


def test_a_vocab_smaller_than_the_tokenizer_is_refused(vocab_1000: Path) -> None:
    with pytest.raises(mlx_model.ConfigError) as info:
        mlx_model.load(vocab_1000)
    message = str(info.value)
    assert "config.json" in message and "vocab_size 1000" in message
    assert "tokenizer.model" in message and "128256 tokens" in message
    assert "\n" not in message


def test_a_truncated_tokenizer_is_refused(truncated_tokenizer: Path) -> None:
    with pytest.raises(mlx_model.ConfigError) as info:
        mlx_model.load(truncated_tokenizer)
    message = str(info.value)
    assert "vocab_size 128256" in message and "1256 tokens" in message
    assert "original/tokenizer.model" in message


def test_eos_ids_outside_the_vocabulary_are_refused(tmp_path: Path, tiny_bf16: Path) -> None:
    checkpoint = shutil.copytree(tiny_bf16, tmp_path / "eos")
    (checkpoint / "generation_config.json").write_text('{"eos_token_id": [128009, 200000]}')
    with pytest.raises(
        mlx_model.ConfigError, match=r"generation_config.json: eos_token_id .*200000"
    ):
        mlx_model.load(checkpoint)


def test_the_cli_says_one_line_and_exits_1(vocab_1000: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LLAMA_CHAT_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "llama_chat.cli", "--model", str(vocab_1000), "-p", "Hi"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "vocab_size 1000" in lines[0], done.stderr
