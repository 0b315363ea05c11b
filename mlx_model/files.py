"""The one checked way to read a file that a user or another program controls.

Every reader of such a file (a checkpoint's config.json and weights, the app's settings and
presets, an imported chat, a document, a saved KV cache) goes through here, so each gets the same
guarantees: only a regular file is read (a named pipe would block forever, a device such as
/dev/zero never ends, a folder is not a file); the file is opened non-blocking, so even opening
a pipe cannot hang; and at most ``max_bytes`` are read, so an endless or enormous file is refused
instead of filling memory. A refusal is a RefusedFileError whose message is one line naming the
file and why. It is an OSError, like every other reason a file cannot be read.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

KiB = 1024
MiB = 1024 * KiB

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class RefusedFileError(OSError):
    """A file was refused before (or while) reading it: not a regular file, or over its size
    limit. ``strerror`` says why; ``str()`` is one line naming the file too."""

    def __init__(self, path: str | Path, why: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, why, str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def describe_size(max_bytes: int) -> str:
    """``1 MiB``, ``64 MiB``, ``2,000,000 bytes``: a limit as a person would say it."""
    if max_bytes >= MiB and max_bytes % MiB == 0:
        return f"{max_bytes // MiB} MiB"
    if max_bytes >= KiB and max_bytes % KiB == 0:
        return f"{max_bytes // KiB} KiB"
    return f"{max_bytes:,} bytes"


def check_open_file(fd: int, path: str | Path, max_bytes: int) -> os.stat_result:
    """Refuse what ``fd`` holds unless it is a regular file of at most ``max_bytes``."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a plain file")
        code = errno.EISDIR if stat.S_ISDIR(info.st_mode) else errno.EINVAL
        raise RefusedFileError(path, f"{kind}, not a regular file", code)
    if info.st_size > max_bytes:
        raise RefusedFileError(path, _too_big(info.st_size, max_bytes), errno.EFBIG)
    return info


def open_checked(path: str | Path, max_bytes: int, *, follow_symlinks: bool = True) -> int:
    """A read-only descriptor of the regular file at ``path`` (the caller closes it).

    Opened with O_NONBLOCK, so a named pipe is refused instead of waiting for a writer; with
    ``follow_symlinks=False`` a symbolic link at ``path`` is refused too (ELOOP).
    """
    flags = _OPEN_FLAGS | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        check_open_file(fd, path, max_bytes)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_regular_file(path: str | Path, max_bytes: int) -> int:
    """The size of the regular file at ``path``, for readers that open it themselves (mx.load);
    RefusedFileError for anything else."""
    fd = open_checked(path, max_bytes)
    try:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def read_fd(fd: int, path: str | Path, max_bytes: int) -> bytes:
    """All of the already-checked file ``fd``, refusing it if it holds more than ``max_bytes``
    (files under /proc report size 0; a file can grow after its size was checked)."""
    chunks, size = [], 0
    while size <= max_bytes:
        chunk = os.read(fd, min(max_bytes + 1 - size, MiB))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > max_bytes:
        raise RefusedFileError(path, _too_big(None, max_bytes), errno.EFBIG)
    return b"".join(chunks)


def read_bytes(path: str | Path, max_bytes: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file at ``path``; RefusedFileError (an OSError) when it is not
    one or is larger than ``max_bytes``, other OSErrors as ``open`` raises them."""
    fd = open_checked(path, max_bytes, follow_symlinks=follow_symlinks)
    try:
        return read_fd(fd, path, max_bytes)
    finally:
        os.close(fd)


def read_stream(stream: BinaryIO, name: str, max_bytes: int) -> bytes:
    """Everything on ``stream`` (standard input) up to ``max_bytes``; RefusedFileError past it,
    read no further, so ``< /dev/zero`` ends at once."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RefusedFileError(name, _too_big(None, max_bytes), errno.EFBIG)
    return data


def parse_json(data: bytes | str) -> Any:
    """JSON from bytes (UTF-8, a leading byte-order mark allowed) or text.

    Every problem is a ValueError with a one-line reason: bad UTF-8 and bad JSON as Python words
    them, and nesting too deep for the parser (json.loads raises RecursionError for it).
    """
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None


def read_json(path: str | Path, max_bytes: int) -> Any:
    """``parse_json`` of the regular file at ``path``, read through ``read_bytes``."""
    return parse_json(read_bytes(path, max_bytes))


def _too_big(size: int | None, max_bytes: int) -> str:
    limit = describe_size(max_bytes)
    if size is None:
        return f"more than {limit}, the limit for this file"
    return f"{size:,} bytes, over the {limit} limit for this file"
