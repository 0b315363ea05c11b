"""Writing an export to a path the user named (``llama-chat export -o FILE``).

The file is written whole or not at all (a temp file in the same folder, then a rename), and:
- an existing file keeps its permissions (a private 0600 note stays private); a new one is 0600;
- a symbolic link is refused, not followed: following it would let a link someone else planted
  send the chat, or overwrite, any file the user can write; naming the real path is explicit;
- anything but a regular file (a FIFO, a device, a folder) is refused: a rename would replace it;
- the folder must exist: a mistyped path does not silently grow a folder tree.
Each refusal is an `ExportTargetError` with one line naming the path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from llama_chat.paths import atomic_write_text

NEW_FILE_MODE = 0o600


class ExportTargetError(OSError):
    """The path cannot receive an export; the message says why in one line."""


def write_export_file(path: Path, text: str) -> None:
    """Replace or create ``path`` with ``text`` (UTF-8), under the rules above."""
    mode = _target_mode(path)
    atomic_write_text(path, text, mode=mode, make_folders=False)


def _target_mode(path: Path) -> int:
    """The permissions the written file gets; ExportTargetError for a path we will not replace."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise ExportTargetError(
                f"the folder {path.parent} does not exist; create it first"
            ) from None
        return NEW_FILE_MODE
    if stat.S_ISLNK(info.st_mode):
        raise ExportTargetError(
            f"{path} is a symbolic link; name the file it points to ({os.path.realpath(path)})"
        )
    if not stat.S_ISREG(info.st_mode):
        raise ExportTargetError(f"{path} is not a regular file (a folder, FIFO or device)")
    return stat.S_IMODE(info.st_mode)
