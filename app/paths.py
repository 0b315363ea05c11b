"""Where llama-chat keeps its files.

By default the platform's own places (via platformdirs): on macOS
``~/Library/Application Support/llama-chat`` for data and settings, and
``~/Library/Caches/llama-chat`` for the KV-cache files, and the user's documents folder for
saved messages and exports. Setting ``LLAMA_CHAT_HOME`` puts everything under one directory
instead (``data/``, ``config/``, ``cache/``, ``documents/``), which is how tests and demos stay
out of the user's files.

Nothing here touches the disk until :meth:`AppPaths.ensure` is called. Chats, drafts, settings
and caches are private: the folders are made 0700 and the files 0600 (``private_dir``,
``private_file``, ``atomic_write_text``), whatever the umask, so other users of the machine
cannot read them.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "llama-chat"
HOME_ENV_VAR = "LLAMA_CHAT_HOME"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


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
                private_dir(directory)
            except OSError as exc:
                raise AppDirError(
                    f"Cannot create the folder {directory} ({exc.strerror or exc}); make it "
                    f"writable, or set {HOME_ENV_VAR} to a folder you can write to."
                ) from exc
        return self


def private_dir(directory: Path) -> None:
    """Create ``directory`` (and missing parents) readable by its owner only; one of ours that
    an older version left open to others (0755) is closed too."""
    directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(directory)


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it is missing (so what is written into it later, by
    SQLite say, stays private), or close an existing one of ours that others can read."""
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        os.close(os.open(path, flags, PRIVATE_FILE_MODE))
    except FileExistsError:
        _tighten(path)


def _tighten(path: Path) -> None:
    """Take away what others may do with our own file or folder, keeping what its owner may;
    best effort (an immutable file stays as it is, and fails later with its own message)."""
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077 and info.st_uid == os.getuid():
        if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):  # never a device
            try:
                os.chmod(path, mode & ~0o077)
            except OSError:
                pass


def atomic_write_text(
    path: Path, text: str, *, mode: int = PRIVATE_FILE_MODE, make_folders: bool = True
) -> None:
    """Replace ``path`` with ``text`` so a crash leaves either the old file or the new one.

    Writes a temp file in the same directory (so the rename cannot cross file systems), fsyncs it,
    then ``os.replace``s it over the target. The new file has ``mode`` (0600 by default: only its
    owner reads it); ``make_folders`` creates missing parent folders first.
    """
    if make_folders:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        os.fchmod(fd, mode)  # the umask, or a temp file left by a crash, may give another mode
        with open(fd, "w", encoding="utf-8") as f:
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
