"""The read_text_file tool: only inside the folders the user allowed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from llama_chat.tools import (
    ToolCall,
    ToolError,
    default_registry,
    read_text_file,
)

# ---- read_text_file ----------------------------------------------------------------------------


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    (allowed / "notes.txt").write_text("Bonjour, été ☀\n", encoding="utf-8")
    (allowed / "sub" / "deep.md").write_text("# deep", encoding="utf-8")
    (outside / "secret.txt").write_text("secret", encoding="utf-8")
    return allowed, outside


@pytest.mark.parametrize("path", ["notes.txt", "./sub/../notes.txt", "{allowed}/notes.txt"])
def test_read_text_file_inside_allowed_folder(folders: tuple[Path, Path], path: str) -> None:
    allowed, _ = folders
    result = read_text_file(path.format(allowed=allowed), [allowed])
    assert result == {"path": str((allowed / "notes.txt").resolve()), "content": "Bonjour, été ☀\n"}


def test_read_text_file_second_allowed_folder(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    result = read_text_file(str(outside / "secret.txt"), [allowed, outside])
    assert result["content"] == "secret"


@pytest.mark.parametrize(
    "path",
    ["../outside/secret.txt", "sub/../../outside/secret.txt", "{outside}/secret.txt", "/etc/passwd",
     "~/.ssh/id_rsa", "link_out/secret.txt", "secret_link.txt"],
)  # fmt: skip
def test_read_text_file_refuses_paths_outside(folders: tuple[Path, Path], path: str) -> None:
    allowed, outside = folders
    (allowed / "link_out").symlink_to(outside, target_is_directory=True)
    (allowed / "secret_link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(ToolError, match="outside the folders the user allowed"):
        read_text_file(path.format(outside=outside), [allowed])


def test_symlinks_are_refused_even_inside_the_allowed_folder(folders: tuple[Path, Path]) -> None:
    # Not followed at all: a link checked as harmless could be re-pointed before the read.
    allowed, _ = folders
    (allowed / "alias.txt").symlink_to(allowed / "sub" / "deep.md")
    with pytest.raises(ToolError, match=r"symbolic link \(alias.txt\)"):
        read_text_file("alias.txt", [allowed])


@pytest.mark.parametrize(
    ("setup", "path", "message"),
    [
        (None, "missing.txt", "There is no file"),
        (None, "sub", "is a folder"),
        (None, "~no_such_user_0x5f3759df/notes.txt", "Cannot resolve"),
        (lambda d: (d / "big.txt").write_bytes(b"x" * 101), "big.txt", "the limit is 100 bytes"),
        (lambda d: (d / "latin1.txt").write_bytes("café".encode("latin-1")), "latin1.txt",
         r"not UTF-8 text \(invalid byte at offset 3\)"),
        (lambda d: (d / "bin.dat").write_bytes(b"ab\x00cd"), "bin.dat", "binary file"),
        (lambda d: os.mkfifo(d / "pipe"), "pipe", "not a regular file"),
        (lambda d: (d / "loop").symlink_to(d / "loop"), "loop", "symbolic link"),
    ],
)  # fmt: skip
def test_read_text_file_errors(
    folders: tuple[Path, Path], setup: Any, path: str, message: str
) -> None:
    allowed, _ = folders
    if setup is not None:
        setup(allowed)
    with pytest.raises(ToolError, match=message):
        read_text_file(path, [allowed], max_bytes=100)


def test_read_text_file_with_no_allowed_folder() -> None:
    result = default_registry([]).execute(ToolCall("read_text_file", {"path": "notes.txt"}))
    assert result.is_error and "No folders are allowed" in str(result.content)


def test_read_text_file_strips_byte_order_mark(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    (allowed / "bom.txt").write_bytes("\ufeffhello".encode())
    assert read_text_file("bom.txt", [allowed])["content"] == "hello"
