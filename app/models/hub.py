"""Fetching a checkpoint from the Hugging Face Hub, with progress, cancel and a disk check.

Only the files the engine reads are fetched, through huggingface_hub into its standard cache;
an interrupted transfer is resumed with a Range request by huggingface_hub itself.
"""

from __future__ import annotations

import fnmatch
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants, hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from mlx_model import WEIGHTS_INDEX_FILE

DOWNLOAD_PATTERNS: tuple[str, ...] = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    WEIGHTS_INDEX_FILE,
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
"""Repository files the app needs; anything else (READMEs, other formats) is never fetched."""

DISK_HEADROOM_BYTES = 256 * 1024**2  # never fill the disk to the last byte


class ModelStoreError(RuntimeError):
    """A checkpoint cannot be found, fetched or used; the message says what to do."""


class NotEnoughDiskSpaceError(ModelStoreError):
    pass


class DownloadCancelled(ModelStoreError):
    pass


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report. Byte counts cover the whole download, not just ``filename``."""

    filename: str
    """The file being fetched now."""
    bytes_done: int
    bytes_total: int
    rate_bps: float
    """Average bytes per second since the download started."""
    eta_s: float | None
    """Seconds left at that rate; None until something has arrived."""


ProgressCallback = Callable[[DownloadProgress], None]


def fetch_snapshot(
    repo: str,
    revision: str,
    *,
    cache_dir: Path,
    endpoint: str | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Download the files the app needs from ``repo`` into the hub cache at ``cache_dir``.

    The hub's file list is fetched, free disk space is checked against the sizes still needed,
    and each missing file is downloaded (resuming after network hiccups). Setting ``cancel``
    stops at the next chunk; files already finished stay in the cache.
    """
    with _network_errors_explained(repo, endpoint):
        commit, sizes = _remote_files(repo, revision, endpoint)
    # Checked against the hub's current commit, so an update never mixes two snapshots.
    to_fetch = {
        name: size
        for name, size in sizes.items()
        if not isinstance(
            try_to_load_from_cache(repo, name, cache_dir=cache_dir, revision=commit), str
        )
    }
    _check_disk_space(repo, sum(to_fetch.values()), cache_dir)
    tracker = _ProgressTracker(sum(to_fetch.values()), on_progress, cancel)
    for name in to_fetch:
        tracker.start_file(name)
        with _network_errors_explained(repo, endpoint):
            hf_hub_download(
                repo,
                name,
                revision=revision,
                cache_dir=cache_dir,
                endpoint=endpoint,
                tqdm_class=tracker.bar_class(),
            )
        tracker.finish_file(name, to_fetch[name])


def _remote_files(repo: str, revision: str, endpoint: str | None) -> tuple[str, dict[str, int]]:
    """The current commit and the size of every needed file, from the hub's listing."""
    api = HfApi(endpoint=endpoint)
    try:
        info = api.model_info(repo, revision=revision, files_metadata=True)
    except RepositoryNotFoundError as exc:
        raise ModelStoreError(
            f"The Hugging Face Hub has no repository {repo} (or it is private). "
            "Check the name, or set model_dir to a local checkpoint."
        ) from exc
    sizes = {
        sibling.rfilename: int(sibling.size or 0)
        for sibling in info.siblings or []
        if "/" not in sibling.rfilename
        and any(fnmatch.fnmatch(sibling.rfilename, p) for p in DOWNLOAD_PATTERNS)
    }
    if "config.json" not in sizes:
        raise ModelStoreError(f"{repo} on the hub has no config.json; it is not a checkpoint.")
    return str(info.sha), sizes


def _check_disk_space(repo: str, needed: int, cache_dir: Path) -> None:
    probe = cache_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the cache dir may not exist yet; its disk does
    free = shutil.disk_usage(probe).free
    if needed + DISK_HEADROOM_BYTES > free:
        raise NotEnoughDiskSpaceError(
            f"Downloading {repo} needs {format_gb(needed)} but only {format_gb(free)} is free "
            f"on the disk holding {cache_dir}. Free some space, or set HF_HOME to a folder on a "
            "larger disk."
        )


_NETWORK_MODULES = ("httpx", "httpx2", "httpcore", "requests", "urllib3")


def _is_network_error(exc: BaseException) -> bool:
    # huggingface_hub lets its HTTP library's transport errors through (httpx2 in 2.x,
    # requests before); they share no base class with OSError, so recognise them by origin.
    return isinstance(exc, ConnectionError | TimeoutError) or any(
        cls.__module__.split(".")[0] in _NETWORK_MODULES for cls in type(exc).__mro__
    )


@contextmanager
def _network_errors_explained(repo: str, endpoint: str | None) -> Iterator[None]:
    try:
        yield
    except ModelStoreError:
        raise
    except HfHubHTTPError as exc:
        raise ModelStoreError(f"The Hugging Face Hub refused a request for {repo}: {exc}") from exc
    except Exception as exc:
        if not _is_network_error(exc):
            raise
        raise ModelStoreError(
            f"Could not reach the Hugging Face Hub ({endpoint or constants.ENDPOINT}) to "
            f"download {repo}: {exc}. Check the network connection; if the model is already on "
            "disk, turn on offline mode."
        ) from exc


class _ProgressTracker:
    """Turns huggingface_hub's per-chunk progress-bar updates into DownloadProgress events."""

    MIN_INTERVAL_S = 0.1  # the UI needs a few updates a second, not one per chunk

    def __init__(
        self, total: int, on_progress: ProgressCallback | None, cancel: threading.Event | None
    ) -> None:
        self.total = total
        self.on_progress = on_progress
        self.cancel = cancel
        self.done = 0
        self.file_start = 0
        self.filename = ""
        self.started = time.monotonic()
        self.last_report = 0.0

    def start_file(self, filename: str) -> None:
        self.filename = filename
        self.file_start = self.done
        self._report(force=True)

    def finish_file(self, filename: str, size: int) -> None:
        # Count the file exactly once, whatever the chunk updates added up to.
        self.done = self.file_start + size
        self.filename = filename
        self._report(force=True)

    def advance(self, n: float) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled(f"Download cancelled while fetching {self.filename}.")
        self.done += int(n)
        self._report()

    def _report(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_progress is None or (not force and now - self.last_report < self.MIN_INTERVAL_S):
            return
        self.last_report = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.on_progress(DownloadProgress(self.filename, self.done, self.total, rate, eta))

    def bar_class(self) -> type:
        """A class huggingface_hub can use in place of tqdm (its ``tqdm_class`` argument)."""
        tracker = self

        class _Bar:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.n = kwargs.get("initial", 0) or 0
                self.total = kwargs.get("total")

            def update(self, n: float | None = 1) -> None:
                self.n += n or 0
                tracker.advance(n or 0)

            def close(self) -> None:
                pass

            def refresh(self) -> None:
                pass

            def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
                pass

            def __enter__(self) -> _Bar:
                return self

            def __exit__(self, *exc_info: object) -> None:
                pass

        return _Bar


def format_gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"
