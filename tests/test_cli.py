"""The real ``llama-chat`` command, end to end, on tiny checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlx_model
from llama_chat.chat.conversation import Conversation, GenerationSettings
from llama_chat.chat.summarize import DOCUMENT_PROMPT

SYSTEM = "You answer briefly."


def run_cli(args, home: Path, stdin: str | None = None, timeout: float = 120):
    env = {**os.environ, "LLAMA_CHAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "llama_chat.cli", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=Path(__file__).resolve().parent.parent,
    )


def engine_answer(path: Path, user_text: str, max_tokens: int) -> str:
    model, tokenizer = mlx_model.load(path)
    conversation = Conversation(
        model,
        tokenizer,
        system_prompt=SYSTEM,
        settings=GenerationSettings(mlx_model.SamplingParams(), max_tokens=max_tokens),
    )
    conversation.add_user(user_text)
    _, text, _ = mlx_model.generate_all(
        model, tokenizer, conversation.encode(), max_tokens=max_tokens
    )
    return text


def printed(answer: str) -> str:
    """What the command prints for ``answer``: a final newline unless it already ends in one."""
    return answer if answer.endswith("\n") else answer + "\n"


def test_one_shot_greedy_output_equals_the_engine_on_the_rendered_prompt(tiny_4bit, tmp_path):
    result = run_cli(
        [
            "--model",
            str(tiny_4bit),
            "-p",
            "Write a haiku",
            "--system",
            SYSTEM,
            "--temp",
            "0",
            "--max-tokens",
            "24",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed(engine_answer(tiny_4bit, "Write a haiku", 24))


def test_piped_text_becomes_the_document(tiny_4bit, tmp_path):
    document = "Quarterly notes.\n\nSales rose by 4%. Costs fell."
    result = run_cli(
        [
            "--model",
            str(tiny_4bit),
            "-p",
            "Summarise",
            "--system",
            SYSTEM,
            "--temp",
            "0",
            "--max-tokens",
            "12",
        ],
        tmp_path,
        stdin=document,
    )
    assert result.returncode == 0, result.stderr
    expected = engine_answer(
        tiny_4bit, DOCUMENT_PROMPT.format(text=document, instruction="Summarise"), 12
    )
    assert result.stdout == printed(expected)


def test_verbose_prints_stats_to_stderr_only(tiny_4bit, tmp_path):
    result = run_cli(["--model", str(tiny_4bit), "-p", "Hi", "--max-tokens", "4", "-v"], tmp_path)
    assert result.returncode == 0
    assert "tok/s" in result.stderr and "tok/s" not in result.stdout


def test_summarize_a_file_longer_than_the_context(tiny_4bit, tmp_path):
    long_file = tmp_path / "long.txt"
    long_file.write_text(
        "\n\n".join(f"Paragraph {i}. " + "Words go here. " * 30 for i in range(12))
    )
    result = run_cli(
        [
            "--model",
            str(tiny_4bit),
            "--summarize",
            str(long_file),
            "--context-limit",
            "512",
            "--max-tokens",
            "16",
            "--temp",
            "0",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "[map " in result.stderr and "[reduce" in result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "/no/such/dir", "-p", "hi"], "no such directory"),
        (["--summarize", "/no/such/file.txt"], "cannot read /no/such/file.txt"),
        (["-p", "hi", "--max-tokens", "0"], "must be at least 1"),
        (["-p", "hi", "--temp", "-1"], "--temp: expected a number in [0, 2]"),
        (["-p", "hi", "--quant", "3bit"], "invalid choice"),
        (["-p", "hi", "--offline"], "offline"),
    ],
)
def test_bad_input_is_one_clear_line_and_no_traceback(args, message, tmp_path):
    result = run_cli(args, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_stops_cleanly_with_the_partial_answer_kept(tiny_4bit, tmp_path):
    env = {**os.environ, "LLAMA_CHAT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_chat.cli",
            "--model",
            str(tiny_4bit),
            "-p",
            "Go on",
            "--max-tokens",
            "100000",
            "--context-limit",
            "131072",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    first = proc.stdout.read(20)  # the answer is streaming
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert len(first) == 20 and (first + rest).startswith(first)
    assert (first + rest).endswith("\n")  # the partial answer ends its line
    assert "Traceback" not in err and err.rstrip().endswith("llama-chat: stopped")
