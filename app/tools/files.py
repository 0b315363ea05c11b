"""The file tool: reads UTF-8 text files, only inside the folders the user allowed."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_chat.tools.registry import Tool, ToolError
from mlx_model.files import RefusedFileError, read_fd

MAX_FILE_BYTES = 1_000_000

# Each folder on the way is opened relative to the one before (openat), never by its full name,
# and no symbolic link is followed: what was checked is what gets read, even if the files are
# swapped meanwhile. O_NONBLOCK: opening a named pipe must not wait for a writer.
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def read_text_file(
    path: str,
    allowed_folders: Sequence[Path],
    *,
    max_bytes: int = MAX_FILE_BYTES,
    allow_hard_links: bool = False,
) -> dict[str, Any]:
    """A UTF-8 text file's content, if it lies inside one of `allowed_folders`.

    A relative path is taken from the first allowed folder; `..` is read as text (one folder
    up), and symbolic links are refused, not followed, so neither can lead outside. A file with
    more than one hard link is refused too (unless ``allow_hard_links``): its other name may lie
    anywhere, and ``ln /etc/shadow allowed/h`` would lead out. The file is opened once and read
    from that descriptor. Raises ToolError otherwise.
    """
    roots = [Path(folder).expanduser().resolve() for folder in allowed_folders]
    if not roots:
        raise ToolError("No folders are allowed for reading; the user can allow one in settings.")
    if "\x00" in path:
        raise ToolError("The path contains a NUL character.")
    try:
        requested = Path(path).expanduser()
    except RuntimeError as error:  # "~nobody"
        raise ToolError(f"Cannot resolve {path!r}: {error}") from error
    if not requested.is_absolute():
        requested = roots[0] / requested
    root, parts = _inside(Path(os.path.normpath(requested)), allowed_folders, roots, path)
    try:
        data = _read_below(root, parts, path, max_bytes, allow_hard_links)
    except OSError as error:
        raise ToolError(f"Cannot read {path!r}: {error.strerror or error}.") from error
    return {"path": str(root.joinpath(*parts)), "content": decode_text(data, path)}


def decode_text(data: bytes, shown_name: str) -> str:
    """``data`` as text if it is UTF-8 without NUL bytes (a leading byte-order mark dropped):
    the one test of "is this a text file we can read" for the tool, documents and stdin."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ToolError(
            f"{shown_name!r} is not UTF-8 text (invalid byte at offset {error.start}); "
            "only UTF-8 text files can be read."
        ) from error
    if "\x00" in text:
        raise ToolError(f"{shown_name!r} looks like a binary file (it contains NUL bytes).")
    return text.removeprefix("\ufeff")


def _inside(
    requested: Path, folders: Sequence[Path], roots: list[Path], path: str
) -> tuple[Path, tuple[str, ...]]:
    """The allowed root `requested` lies in, and the names leading from it to the file."""
    # A folder is matched under the name the user gave it too (macOS: /tmp is /private/tmp).
    given = [Path(os.path.abspath(Path(folder).expanduser())) for folder in folders]
    for root, alias in zip(roots, given, strict=True):
        for prefix in (root, alias):
            if requested.is_relative_to(prefix):
                return root, requested.relative_to(prefix).parts
    folders_text = ", ".join(str(root) for root in roots)
    raise ToolError(f"{path!r} is outside the folders the user allowed ({folders_text}).")


def _read_below(
    root: Path, parts: tuple[str, ...], path: str, max_bytes: int, allow_hard_links: bool
) -> bytes:
    if not parts:
        raise ToolError(f"{path!r} is a folder, not a file.")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, name in enumerate(parts):
            last = index == len(parts) - 1
            try:
                child = os.open(name, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                _explain(error, fd, name, path)
                raise
            os.close(fd)
            fd = child
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"{path!r} is a folder, not a file.")
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"{path!r} is not a regular file.")
        if info.st_nlink > 1 and not allow_hard_links:
            raise ToolError(
                f"{path!r} has {info.st_nlink} hard links; such a file is not read, because "
                "its other names may lie outside the folders the user allowed."
            )
        if info.st_size > max_bytes:
            raise ToolError(
                f"{path!r} is {info.st_size:,} bytes; the limit is {max_bytes:,} bytes."
            )
        try:
            return read_fd(fd, path, max_bytes)
        except RefusedFileError:  # the file grew after the size check
            raise ToolError(f"{path!r} is larger than {max_bytes:,} bytes.") from None
    finally:
        os.close(fd)


def _explain(error: OSError, parent_fd: int, name: str, path: str) -> None:
    """Turn a failed open of `name` (inside `parent_fd`) into a ToolError the model can use."""
    if error.errno == errno.ENOENT:
        raise ToolError(f"There is no file {path!r}.") from error
    if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        try:
            is_link = stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
        except OSError:
            is_link = False
        if is_link:
            raise ToolError(
                f"{path!r} goes through a symbolic link ({name}); links are not followed, so "
                "that no path can lead outside the folders the user allowed."
            ) from error
        if error.errno == errno.ENOTDIR:
            raise ToolError(f"There is no file {path!r} ({name} is not a folder).") from error


def read_text_file_tool(
    allowed_folders: Sequence[Path], *, max_bytes: int = MAX_FILE_BYTES
) -> Tool:
    folders = list(allowed_folders)
    shown = ", ".join(str(folder) for folder in folders) or "none yet"
    return Tool(
        name="read_text_file",
        description=(
            f"Read a UTF-8 text file (at most {max_bytes:,} bytes) from the folders the user "
            f"allowed: {shown}. Relative paths start in the first folder."
        ),
        parameters={
            "type": "object",
            "properties": {"path": {"type": "string", "description": "File path."}},
            "required": ["path"],
        },
        run=lambda arguments: read_text_file(arguments["path"], folders, max_bytes=max_bytes),
    )
