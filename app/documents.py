"""Reading a file to attach to a chat, and telling a pasted file path from a message.

A document is any text file: whatever decodes as UTF-8 (with or without a byte-order mark) and
holds no NUL byte, up to MAX_DOCUMENT_BYTES. The file is read the way the file tool reads (no
symbolic link followed, regular files only, a size cap checked on the open file), so what was
checked is what gets attached. ``--summarize FILE`` and text piped to the CLI pass the same
checks, through ``load_document`` and ``document_from_bytes``.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from llama_chat.tools import ToolError
from llama_chat.tools.files import decode_text, read_text_file

MAX_DOCUMENT_BYTES = 2_000_000
DOCUMENT_SHARE = 0.75
"""A document read whole may fill at most this share of the room an answer leaves in the
context, so that the question about it (and earlier turns) still fit next to it."""


def document_fits(tokens: int, context_limit: int, max_tokens: int) -> bool:
    """Whether a document of ``tokens`` (as the model reads it, framed) is read whole; else it
    is summarised first. The one rule for the TUI's attachments and the CLI's documents."""
    return tokens <= int((context_limit - max_tokens) * DOCUMENT_SHARE)


class DocumentError(ValueError):
    """The file cannot be attached; one line saying why (``why`` without "Cannot attach")."""

    def __init__(self, why: str) -> None:
        super().__init__(f"Cannot attach: {why}")
        self.why = why


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
        # A hard link is fine here: the person chose this file, it was not named by a model.
        read = read_text_file(path.name, [path.parent], max_bytes=max_bytes, allow_hard_links=True)
    except ToolError as exc:
        raise DocumentError(str(exc)) from None
    return _document(path.name, read["content"])


def document_from_bytes(name: str, data: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Document:
    """``data`` (text piped to the CLI) as a document, checked as a file to attach is."""
    if len(data) > max_bytes:
        raise DocumentError(f"{name!r} is {len(data):,} bytes; the limit is {max_bytes:,} bytes.")
    try:
        text = decode_text(data, name)
    except ToolError as exc:
        raise DocumentError(str(exc)) from None
    return _document(name, text)


def _document(name: str, text: str) -> Document:
    if not text.strip():
        raise DocumentError(f"{name!r} is empty.")
    return Document(name, text, len(text.encode("utf-8")))


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
