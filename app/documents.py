"""Reading a file to attach to a chat, and telling a pasted file path from a message.

A document is any text file: whatever decodes as UTF-8 (with or without a byte-order mark). The
file is read the way the file tool reads (no symbolic link followed, regular files only, a size
cap checked on the open file), so what was checked is what gets attached.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from llama_chat.tools import ToolError
from llama_chat.tools.files import read_text_file

MAX_DOCUMENT_BYTES = 2_000_000


class DocumentError(ValueError):
    """The file cannot be attached; one line saying why."""


@dataclass(frozen=True)
class Document:
    name: str
    text: str
    size_bytes: int


def load_document(path: Path | str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Document:
    """The text file at ``path``; DocumentError for a binary, too large or unreadable one."""
    path = Path(path).expanduser().absolute()
    try:
        # By its name inside its folder, so that a refusal names the file, not its whole path.
        read = read_text_file(path.name, [path.parent], max_bytes=max_bytes)
    except ToolError as exc:
        raise DocumentError(f"Cannot attach: {exc}") from None
    text = read["content"]
    if not text.strip():
        raise DocumentError(f"Cannot attach: {path.name!r} is empty.")
    return Document(path.name, text, len(text.encode("utf-8")))


def pasted_path(text: str) -> Path | None:
    """The existing file that ``text`` names, as a terminal pastes or drops a path (quoted, or
    with backslash-escaped spaces); None when it is not one file's path."""
    text = text.strip()
    if not text or "\n" in text or len(text) > os.pathconf("/", "PC_PATH_MAX"):
        return None
    try:
        words = shlex.split(text)  # undoes quotes and "\ " escapes as the shell would
    except ValueError:
        return None
    if len(words) != 1:
        return None
    candidate = Path(words[0]).expanduser()
    if not candidate.is_absolute() and not words[0].startswith("."):
        return None  # a plain word ("hello") is a message, even if a file has that name
    return candidate if candidate.is_file() else None
