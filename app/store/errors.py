"""Why the session database cannot be used: one line each, naming the file and what to do."""

from __future__ import annotations

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
