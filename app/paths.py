"""Where llama-chat keeps its files.

By default the platform's own places (via platformdirs): on macOS
``~/Library/Application Support/llama-chat`` for data and settings, and
``~/Library/Caches/llama-chat`` for the KV-cache files, and the user's documents folder for
saved messages and exports. Setting ``LLAMA_CHAT_HOME`` puts everything under one directory
instead (``data/``, ``config/``, ``cache/``, ``documents/``), which is how tests and demos stay
out of the user's files.

Nothing here touches the disk until :meth:`AppPaths.ensure` is called.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "llama-chat"
HOME_ENV_VAR = "LLAMA_CHAT_HOME"


class StartupError(Exception):
    """A problem found while starting up (folders, settings, the session database) that the
    user can fix; its message is one line, naming the file or folder and what to do."""


class AppDirError(StartupError):
    """One of the app's folders cannot be created or written."""


@dataclass(frozen=True)
class AppPaths:
    """The directories the app writes to, and the files it keeps in them."""

    data_dir: Path
    """Saved sessions (the SQLite database). Worth backing up."""
    config_dir: Path
    """The settings file."""
    cache_dir: Path
    """Persisted KV caches: safe to delete, rebuilt on demand."""
    documents_dir: Path
    """Where saved messages and exported chats go by default: the user's documents folder
    (``~/Documents``; on Linux the XDG documents folder). Made when a file is first saved."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppPaths:
        """The app's directories: under ``$LLAMA_CHAT_HOME`` if set, else the platform defaults."""
        env = os.environ if environ is None else environ
        home = env.get(HOME_ENV_VAR, "").strip()
        if home:
            root = Path(home).expanduser()
            return cls(
                data_dir=root / "data",
                config_dir=root / "config",
                cache_dir=root / "cache",
                documents_dir=root / "documents",
            )
        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            documents_dir=Path(platformdirs.user_documents_dir()),
        )

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def presets_file(self) -> Path:
        return self.config_dir / "presets.json"

    @property
    def sessions_db(self) -> Path:
        return self.data_dir / "sessions.db"

    @property
    def open_chat_file(self) -> Path:
        """Which chat was shown when the app last ran: the app reopens it on start."""
        return self.data_dir / "open_chat.json"

    @property
    def kv_cache_dir(self) -> Path:
        return self.cache_dir / "kv"

    def ensure(self) -> AppPaths:
        """Create the directories (and parents) if missing; returns self for chaining.

        Raises AppDirError naming the folder when one cannot be created (read-only disk, no
        permission, a file in the way).
        """
        for directory in (self.data_dir, self.config_dir, self.cache_dir, self.kv_cache_dir):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AppDirError(
                    f"Cannot create the folder {directory} ({exc.strerror or exc}); make it "
                    f"writable, or set {HOME_ENV_VAR} to a folder you can write to."
                ) from exc
        return self


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a crash leaves either the old file or the new one.

    Writes a temp file in the same directory (so the rename cannot cross file systems), fsyncs it,
    then ``os.replace``s it over the target.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def move_aside(path: Path, reason: str = "corrupt", companions: tuple[str, ...] = ()) -> Path:
    """Rename an unusable file to ``<name>.<reason>-<UTC timestamp>`` instead of deleting it.

    ``companions`` are suffixes of sibling files that belong to it (SQLite's ``-wal``/``-shm``);
    they are renamed alongside with the same suffix so the set stays openable. Returns the new path.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    counter = 1
    while target.exists():  # two failures within the same second must not clobber each other
        target = path.with_name(f"{path.name}.{reason}-{stamp}-{counter}")
        counter += 1
    os.replace(path, target)
    for suffix in companions:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, target.with_name(target.name + suffix))
    return target


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; not supported (nor needed) everywhere.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
