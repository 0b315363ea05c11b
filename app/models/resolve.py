"""Which checkpoint directory to load: the demo, a local folder, a hub repo, or a quant level."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from llama_chat.models.demo import ensure_demo_checkpoint
from llama_chat.models.hub import DOWNLOAD_PATTERNS, DownloadProgress, ModelStoreError
from llama_chat.models.store import ModelNotAvailableError, ModelStore
from llama_chat.settings import Settings


def is_repo_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not Path(text).exists()


def resolve_checkpoint(
    settings: Settings,
    quant: str,
    *,
    cache_dir: Path,
    model: str | Path | None = None,
    demo: bool = False,
    offline: bool = False,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Path, str]:
    """(checkpoint directory, stable model id), downloading when allowed and needed."""
    if demo:
        return ensure_demo_checkpoint(cache_dir), "demo"
    if model is not None:
        text = str(model)
        if is_repo_id(text):
            return _repo_snapshot(text, offline or ModelStore(settings).offline), text
        path = Path(text).expanduser()
        if not path.is_dir():
            raise ModelStoreError(f"--model {text}: no such directory (nor a hub repo id)")
        return path, str(path.resolve())
    store = ModelStore(settings, offline=offline)
    if not store.missing_files(quant):
        return store.resolve(quant), store.model_id(quant)
    return store.download(quant, on_progress, cancel=cancel), store.model_id(quant)


def _repo_snapshot(repo: str, offline: bool) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(
                repo, allow_patterns=list(DOWNLOAD_PATTERNS), local_files_only=offline
            )
        )
    except LocalEntryNotFoundError:
        raise ModelNotAvailableError(
            f"{repo} is not in the local Hugging Face cache and offline mode is on", repo, []
        ) from None
    except Exception as exc:  # the hub client raises many types for network trouble
        raise ModelStoreError(f"cannot fetch {repo}: {exc}") from None
