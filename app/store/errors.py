"""Why the session database cannot be used: one line each, naming the file and what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llama_chat.paths import StartupError


class SessionStoreError(StartupError):
    """The session database cannot be used; the message says why and what to do."""


class NewerSchemaError(SessionStoreError):
    """The database was written by a newer llama-chat; we refuse to touch it."""

    def __init__(self, path: Path | str, found: int, supported: int) -> None:
        super().__init__(
            f"{path} uses schema version {found}, but this llama-chat understands only up to "
            f"version {supported}. Upgrade llama-chat, or move the file away to start with an "
            "empty history (it was left untouched)."
        )
        self.path = Path(path)
        self.found = found
        self.supported = supported


def database_failure(path: Path | str, exc: sqlite3.Error, doing: str) -> SessionStoreError:
    """One line for an SQLite error met while ``doing`` something ("importing the chat")."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        why = "another program holds it locked; close that program or try again later"
    elif name.startswith("SQLITE_FULL"):
        why = "the disk is full; free some space and try again"
    elif name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        why = "the file or its folder cannot be written (read-only, immutable or permissions)"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        why = "the file is damaged; restart llama-chat to move it aside and salvage what it can"
    else:
        why = str(exc)
    return SessionStoreError(f"Failed {doing} in {path}: {why}.")
