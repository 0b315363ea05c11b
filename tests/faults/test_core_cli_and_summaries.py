"""One-shot CLI and summaries: every bad input or limit ends in one line, never a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlx_model
from llama_chat.chat.conversation import GenerationSettings
from llama_chat.chat.summarize import SummaryError, summarize
from llama_chat.events import SummaryProgress

ROOT = Path(__file__).resolve().parents[2]


def cli(args: list[str], home: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLAMA_CHAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "llama_chat", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=ROOT,
        **kwargs,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("llama-chat: ")]
    errors = [line for line in lines if "demo model" not in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_an_output_reader_that_goes_away_ends_the_answer_quietly(paths):
    env = {**os.environ, "LLAMA_CHAT_HOME": os.environ["LLAMA_CHAT_HOME"], "HF_HUB_OFFLINE": "1"}
    # Greedy, so the answer is long every run (sampled, the demo model may end at once and exit 0).
    script = (
        f"{sys.executable} -m llama_chat --demo -p hi --max-tokens 200 --temp 0 | head -c 20"
        " > /dev/null; echo ${PIPESTATUS[0]}"
    )
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=180, cwd=ROOT
    )
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.stdout.strip() == "141"


def test_summarising_an_empty_file_is_refused(paths, tmp_path):
    (tmp_path / "empty.txt").write_text("")  # not /dev/null: a device is refused as such
    home = Path(os.environ["LLAMA_CHAT_HOME"])
    result = cli(["--demo", "--summarize", str(tmp_path / "empty.txt")], home)
    assert result.returncode == 1
    assert "is empty" in one_line_error(result)


def test_a_non_number_for_max_tokens_names_the_flag_and_the_value(tmp_path):
    result = cli(["--demo", "-p", "hi", "--max-tokens", "abc"], tmp_path)
    assert result.returncode == 2
    assert "_positive_int" not in result.stderr
    assert "--max-tokens" in result.stderr and "'abc'" in result.stderr


def test_an_impossible_summary_budget_is_one_line(paths, tmp_path):
    document = tmp_path / "doc.txt"
    document.write_text(" ".join(["The quick brown fox jumps over the lazy dog."] * 100))
    result = cli(
        ["--demo", "--summarize", str(document), "--context-limit", "512", "--max-tokens", "400"],
        Path(os.environ["LLAMA_CHAT_HOME"]),
    )
    assert result.returncode == 1
    assert "lower the max tokens or raise the context limit" in one_line_error(result)


def test_every_summary_round_is_shorter_than_the_last(tiny_4bit):
    """Answers as long as the parts made each round longer than the last: it never ended."""
    model, tokenizer = mlx_model.load(tiny_4bit)
    document = "\n\n".join(
        f"Part {i}. " + "The quick brown fox jumps over it. " * 8 for i in range(4)
    )
    settings = GenerationSettings(
        mlx_model.SamplingParams(temperature=1.0, seed=3), max_tokens=120, context_limit=330
    )
    events = []
    summarize(model, tokenizer, document, settings=settings, emit=events.append)
    round_sizes = [e.total for e in events if isinstance(e, SummaryProgress) and e.stage == "map"]
    rounds = sorted(set(round_sizes), reverse=True)
    assert len(rounds) >= 2
    assert rounds == sorted(rounds, reverse=True) and len(rounds) == len(set(rounds))
    assert any(isinstance(e, SummaryProgress) and e.stage == "reduce" for e in events)


def test_a_summary_budget_below_the_minimum_raises_a_summary_error(tiny_4bit):
    model, tokenizer = mlx_model.load(tiny_4bit)
    settings = GenerationSettings(max_tokens=400, context_limit=512)
    with pytest.raises(SummaryError, match="context limit of 512"):
        summarize(model, tokenizer, "word " * 3000, settings=settings, emit=lambda e: None)
