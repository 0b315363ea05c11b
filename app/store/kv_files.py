"""KV caches saved to disk, so reopening a long chat does not prefill it all again.

One file per chat: ``session-<id>.<key>.safetensors`` in the cache dir, where ``key`` hashes the
model id, the quant level and the token ids the cache holds. A file is only ever trusted after
``KVCache.load`` has read it and its metadata names this chat, model and quant level and its
tokens start the same way as the prompt; anything else is deleted, because a stale cache is
cheaper to rebuild than to explain. The directory is kept under a byte budget by dropping the
least recently used files (file mtime records the last use).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llama_chat.paths import PRIVATE_FILE_MODE, private_dir
from mlx_model import CacheFileError, KVCache
from mlx_model.files import check_regular_file

if TYPE_CHECKING:
    from mlx_model import Model

log = logging.getLogger(__name__)

SUFFIX = ".safetensors"  # mx.save_safetensors appends it if missing, so every name ends so
STORE_FORMAT = "1"
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 3600  # a temp file this old is left over from a crash, not a save in flight
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]+")


class CacheSaveError(Exception):
    """A KV cache could not be written (disk full, read-only, no permission); one line naming
    the file and why. Nothing is left behind, and the chat itself is unaffected."""


# What a damaged or foreign cache file raises on load: KVCache.load's own CacheFileError, the
# plain errors a malformed header or metadata gives, and OSError for what is not a regular file
# (or cannot be opened). Anything else is a bug and propagates.
_DAMAGED = (CacheFileError, TypeError, ValueError, KeyError, RuntimeError, OSError)


def cache_key(model_id: str, quant: str, token_ids: Sequence[int]) -> str:
    """Hex digest naming the cache of these tokens under this model and quant level."""
    payload = json.dumps([model_id, quant, [int(t) for t in token_ids]], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class CacheStore:
    """Saved KV caches, one per chat, within ``budget_bytes`` of disk."""

    def __init__(self, directory: Path, budget_bytes: int) -> None:
        if budget_bytes < 0:
            raise ValueError(f"budget_bytes must be >= 0, got {budget_bytes}")
        self.directory = Path(directory)
        self.budget_bytes = budget_bytes

    # -- naming ---------------------------------------------------------------------------------

    def path_for(
        self, session_id: int | str, model_id: str, quant: str, token_ids: Sequence[int]
    ) -> Path:
        key = cache_key(model_id, quant, token_ids)
        return self.directory / f"{_session_prefix(session_id)}.{key}{SUFFIX}"

    def session_files(self, session_id: int | str) -> list[Path]:
        """The chat's cache files, newest first (normally at most one)."""
        return _newest_first(self.directory.glob(f"{_session_prefix(session_id)}.*{SUFFIX}"))

    # -- save / load ----------------------------------------------------------------------------

    def save(
        self, session_id: int | str, key_meta: Mapping[str, str], cache: KVCache
    ) -> Path | None:
        """Write ``cache`` for this chat atomically, drop the chat's older file, then evict.

        ``key_meta`` must hold ``model_id`` and ``quant``; any other entries are stored as
        metadata too. Returns the file, or None when nothing was kept (empty cache, zero budget,
        or the file alone is larger than the budget). Raises CacheSaveError when the file
        cannot be written; the chat's older cache file, if any, is then kept.
        """
        missing = [k for k in ("model_id", "quant") if not key_meta.get(k)]
        if missing:
            raise ValueError(f"key_meta needs {', '.join(missing)}; got {dict(key_meta)!r}")
        if cache.length == 0 or self.budget_bytes == 0:
            return None
        model_id, quant = key_meta["model_id"], key_meta["quant"]
        target = self.path_for(session_id, model_id, quant, cache.tokens)
        metadata = {str(k): str(v) for k, v in key_meta.items()}
        metadata.update(
            {
                "store_format": STORE_FORMAT,
                "session_id": str(session_id),
                "model_id": model_id,
                "quant": quant,
            }
        )
        # A unique temp name in the same directory: a crash mid-write never leaves a file that
        # looks finished, and the rename cannot cross file systems. No fsync: a cache torn by a
        # power cut fails to load and is deleted, which costs only a prefill.
        tmp = self.directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}{SUFFIX}"
        try:
            private_dir(self.directory)
            cache.save(tmp, metadata)
            os.chmod(tmp, PRIVATE_FILE_MODE)  # mx.save_safetensors makes it 0644
            os.replace(tmp, target)
        except (OSError, RuntimeError) as exc:
            # MLX reports a full or read-only disk as RuntimeError ("Unable to write 8 bytes",
            # "Failed to open file"), the file system as OSError.
            raise CacheSaveError(
                f"Could not save the KV cache to {target} ({_one_line(exc)}); "
                "the chat is saved, only reopening it will be slower. Check the free space."
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        for older in self.session_files(session_id):
            if older != target:
                older.unlink(missing_ok=True)
        self.evict()
        return target if target.exists() else None

    def load_best(
        self,
        session_id: int | str,
        model_id: str,
        quant: str,
        prompt_ids: Sequence[int],
        model: Model,
    ) -> KVCache | None:
        """The chat's saved cache if it fits this model and prompt, else None.

        Files that are corrupt, from another model or quant level, or whose tokens share nothing
        with ``prompt_ids`` are deleted. The returned cache may hold tokens past the common
        prefix; the generator trims it to what the prompt shares.
        """
        found: KVCache | None = None
        for path in self.session_files(session_id):
            if found is not None:  # one file per chat: the newest usable one wins
                path.unlink(missing_ok=True)
                continue
            try:
                # mx.load would wait for ever on a named pipe (holding the interpreter, so the
                # app could not even quit); a file over the whole budget is not one we wrote.
                check_regular_file(path, max(self.budget_bytes, 1))
                cache, metadata = KVCache.load(path, model.config)
            except _DAMAGED as exc:  # a damaged file is only a lost cache: delete, carry on
                self._discard(path, f"could not be loaded ({exc})")
                continue
            problem = self._problem(path, metadata, cache, session_id, model_id, quant, prompt_ids)
            if problem:
                self._discard(path, problem)
                continue
            os.utime(path)  # last use, for least-recently-used eviction
            found = cache
        return found

    def _problem(
        self,
        path: Path,
        metadata: Mapping[str, str],
        cache: KVCache,
        session_id: int | str,
        model_id: str,
        quant: str,
        prompt_ids: Sequence[int],
    ) -> str | None:
        """Why a loaded file must not be used, or None if it may."""
        expected = {
            "store_format": STORE_FORMAT,
            "session_id": str(session_id),
            "model_id": model_id,
            "quant": quant,
        }
        for key, value in expected.items():
            if metadata.get(key) != value:
                return f"its {key} is {metadata.get(key)!r}, expected {value!r}"
        # The name hashes model, quant and tokens: a renamed or copied file does not match it.
        if path != self.path_for(session_id, model_id, quant, cache.tokens):
            return "its name does not match its contents"
        shared = 0
        for held, wanted in zip(cache.tokens, prompt_ids, strict=False):
            if held != wanted:
                break
            shared += 1
        if shared == 0:
            return "its tokens share no prefix with the prompt"
        return None

    @staticmethod
    def _discard(path: Path, reason: str) -> None:
        log.info("deleting cache file %s: %s", path.name, reason)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # a read-only cache folder: the file is skipped all the same
            log.warning("could not delete cache file %s: %s", path, exc)

    # -- housekeeping ---------------------------------------------------------------------------

    def delete_session(self, session_id: int | str) -> int:
        """Delete the chat's cache files; returns how many there were."""
        files = self.session_files(session_id)
        for path in files:
            path.unlink(missing_ok=True)
        return len(files)

    def total_bytes(self) -> int:
        return sum(size for _, size in self._files_with_sizes())

    def evict(self) -> list[Path]:
        """Delete least recently used files until the total fits the budget; returns them."""
        self._remove_stale_temp_files()
        files = self._files_with_sizes()
        total = sum(size for _, size in files)
        removed: list[Path] = []
        for path, size in reversed(files):  # oldest first
            if total <= self.budget_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed.append(path)
        return removed

    def _files_with_sizes(self) -> list[tuple[Path, int]]:
        """Finished cache files, newest first, with their sizes."""
        out = []
        for path in _newest_first(self.directory.glob(f"session-*{SUFFIX}")):
            try:
                out.append((path, path.stat().st_size))
            except FileNotFoundError:  # deleted meanwhile
                continue
        return out

    def _remove_stale_temp_files(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        for tmp in self.directory.glob(f"{_TMP_PREFIX}*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except FileNotFoundError:
                continue


def _session_prefix(session_id: int | str) -> str:
    text = str(session_id)
    if not _SESSION_ID.fullmatch(text):
        raise ValueError(f"session id {session_id!r} cannot be used in a file name")
    return f"session-{text}"


def _newest_first(paths) -> list[Path]:
    stamped = []
    for path in paths:
        try:
            stamped.append((path.stat().st_mtime_ns, path))
        except FileNotFoundError:
            continue
    stamped.sort(key=lambda item: (item[0], item[1].name), reverse=True)
    return [path for _, path in stamped]


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
