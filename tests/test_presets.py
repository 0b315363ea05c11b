"""The prompt library: built-ins, the user's own presets saved across restarts, and --preset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import mlx_model
from llama_chat.chat.presets import (
    BUILTIN_PRESETS,
    Preset,
    PresetError,
    PresetLibrary,
    prepare_invocation,
    split_invocation,
)
from llama_chat.chat.template import encode_prompt, format_date
from llama_chat.settings import DEFAULT_SYSTEM_PROMPT

ROOT = Path(__file__).resolve().parent.parent


def test_the_builtins_cover_the_everyday_rewrites():
    names = {p.name for p in BUILTIN_PRESETS}
    assert {"summarise", "shorten", "expand", "formal", "friendly", "fix", "bullets"} <= names
    assert {"translate", "reply"} <= names
    assert all(p.builtin and "{text}" in p.template for p in BUILTIN_PRESETS)


def test_apply_puts_the_text_and_the_argument_in_place_and_nothing_else():
    library = PresetLibrary.load(Path("/nonexistent/presets.json"))
    translate = library.get("translate")
    message = translate.apply("  Good {arg} morning {text}  ", "French")
    assert "into French." in message
    # Placeholders inside the user's text stay literal: one substitution pass.
    assert message.endswith("Good {arg} morning {text}")
    with pytest.raises(PresetError, match="needs a word after it"):
        translate.apply("hello")
    with pytest.raises(PresetError, match="needs some text"):
        library.get("fix").apply("   ")


def test_user_presets_survive_a_restart_and_override_a_builtin(tmp_path):
    path = tmp_path / "presets.json"
    library = PresetLibrary.load(path)
    library.save(Preset("haiku", "As a haiku", "Rewrite as a haiku:\n\n{text}", temperature=0.9))
    library.save(Preset("fix", "Fix, British", "Fix the spelling (British English):\n\n{text}"))

    again = PresetLibrary.load(path)
    assert again.warnings == []
    assert again.get("haiku").temperature == 0.9 and not again.get("haiku").builtin
    assert again.get("fix").description == "Fix, British"
    assert [p.name for p in again.all()].count("fix") == 1
    again.delete("fix")
    assert PresetLibrary.load(path).get("fix").builtin  # the built-in comes back
    with pytest.raises(PresetError, match="no preset of yours"):
        again.delete("summarise")


def test_a_bad_entry_is_skipped_and_named_the_rest_kept(tmp_path):
    path = tmp_path / "presets.json"
    path.write_text(
        json.dumps(
            [
                {"name": "ok", "template": "Do it: {text}"},
                {"name": "Bad Name", "template": "{text}"},
                {"name": "notext", "template": "no placeholder"},
                {"name": "hot", "template": "{text}", "temperature": 9},
                {"name": "extra", "template": "{text}", "colour": "red"},
            ]
        )
    )
    library = PresetLibrary.load(path)
    assert library.get("ok").template == "Do it: {text}"
    assert len(library.warnings) == 4
    assert any("entry 4" in w and "temperature" in w for w in library.warnings)


def test_a_file_that_is_not_json_is_moved_aside(tmp_path):
    path = tmp_path / "presets.json"
    path.write_text("{not json")
    library = PresetLibrary.load(path)
    assert library.user_presets() == [] and "moved to" in library.warnings[0]
    assert not path.exists()


def test_split_invocation_reads_a_slash_command():
    assert split_invocation("/translate  French ") == ("translate", "French")
    assert split_invocation("fix") == ("fix", "")


def test_split_invocation_keeps_the_line_breaks_of_the_text():
    assert split_invocation("/shorten\nline one\nline two") == ("shorten", "line one\nline two")


def test_a_chat_box_invocation_works_on_its_text_else_on_the_last_answer():
    library = PresetLibrary.load(Path("/nonexistent/presets.json"))
    shorten = library.get("shorten")
    assert prepare_invocation(library, "/shorten my text", "answer") == (
        shorten,
        shorten.apply("my text"),
    )
    assert prepare_invocation(library, "/shorten ", "the answer")[1] == shorten.apply("the answer")
    translate = library.get("translate")
    _, message = prepare_invocation(library, "/translate German Good night", "")
    assert message == translate.apply("Good night", "German")
    assert prepare_invocation(library, "/translate German", "Hi")[1] == translate.apply(
        "Hi", "German"
    )


@pytest.mark.parametrize(
    ("typed", "last_answer", "error"),
    [
        ("/nosuch text", "answer", "there is no preset 'nosuch'"),
        ("/shorten", "", "/shorten works on text"),
        ("/translate", "answer", "/translate needs a word after it"),
    ],
)
def test_a_chat_box_invocation_that_cannot_run_says_why(typed, last_answer, error):
    library = PresetLibrary.load(Path("/nonexistent/presets.json"))
    with pytest.raises(PresetError, match=error):
        prepare_invocation(library, typed, last_answer)


def test_cli_preset_sends_the_preset_message_for_stdin(paths, tokenizer_model_path):
    text = "teh cat sat on teh mat"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "llama_chat",
            "--demo",
            "--preset",
            "fix",
            "--max-tokens",
            "2",
            "-v",
        ],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    tokenizer = mlx_model.Tokenizer.from_tiktoken_file(tokenizer_model_path)
    message = PresetLibrary.load(paths.presets_file).get("fix").apply(text)
    expected = encode_prompt(
        tokenizer,
        [
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": message},
        ],
        date_string=format_date(date.today()),
    )
    assert f"prompt {len(expected)} tok" in result.stderr


def test_cli_preset_without_text_is_one_line(paths):
    result = subprocess.run(
        [sys.executable, "-m", "llama_chat", "--demo", "--preset", "nope", "-p", "x"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=60,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "there is no preset 'nope'" in result.stderr and "Traceback" not in result.stderr
