"""The file tool: reads UTF-8 text files, only inside the folders the user allowed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_chat.tools.registry import Tool, ToolError

MAX_FILE_BYTES = 1_000_000


def read_text_file(
    path: str, allowed_folders: Sequence[Path], *, max_bytes: int = MAX_FILE_BYTES
) -> dict[str, Any]:
    """A UTF-8 text file's content, if it lies inside one of `allowed_folders`.

    A relative path is taken from the first allowed folder. The check is made on the path with
    every symlink and `..` resolved, so neither can lead outside. Raises ToolError otherwise.
    """
    roots = [Path(folder).expanduser().resolve() for folder in allowed_folders]
    if not roots:
        raise ToolError("No folders are allowed for reading; the user can allow one in settings.")
    if "\x00" in path:
        raise ToolError("The path contains a NUL character.")
    try:
        requested = Path(path).expanduser()
        if not requested.is_absolute():
            requested = roots[0] / requested
        resolved = requested.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: "~nobody", or a symlink loop
        raise ToolError(f"Cannot resolve {path!r}: {error}") from error
    if not any(resolved.is_relative_to(root) for root in roots):
        folders = ", ".join(str(root) for root in roots)
        raise ToolError(f"{path!r} is outside the folders the user allowed ({folders}).")
    try:
        data = _read_bytes(path, resolved, max_bytes)
    except OSError as error:
        raise ToolError(f"Cannot read {path!r}: {error.strerror or error}.") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ToolError(
            f"{path!r} is not UTF-8 text (invalid byte at offset {error.start}); "
            "only UTF-8 text files can be read."
        ) from error
    if "\x00" in text:
        raise ToolError(f"{path!r} looks like a binary file (it contains NUL bytes).")
    return {"path": str(resolved), "content": text.removeprefix("\ufeff")}


def _read_bytes(path: str, resolved: Path, max_bytes: int) -> bytes:
    if not resolved.exists():
        raise ToolError(f"There is no file {path!r}.")
    if resolved.is_dir():
        raise ToolError(f"{path!r} is a folder, not a file.")
    if not resolved.is_file():
        raise ToolError(f"{path!r} is not a regular file.")  # a FIFO would block the read
    size = resolved.stat().st_size
    if size > max_bytes:
        raise ToolError(f"{path!r} is {size:,} bytes; the limit is {max_bytes:,} bytes.")
    with resolved.open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew after the size check
        raise ToolError(f"{path!r} is larger than {max_bytes:,} bytes.")
    return data


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
