"""The command line tells a new user everything it can do: --help lists the subcommands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llama_chat.cli_sessions import SUBCOMMANDS


def help_text(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "llama_chat", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_lists_the_export_and_import_subcommands():
    text = help_text()
    for command in SUBCOMMANDS:
        assert f"llama-chat {command}" in text


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_the_help_names_has_its_own_help(command):
    assert help_text(command).startswith(f"usage: llama-chat {command}")
