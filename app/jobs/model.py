"""Loading the model on the engine thread, told as events: loading, download progress, then
loaded or failed. The open chat's owner (chat.py) keeps what was loaded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llama_chat.events import (
    DownloadProgressEvent,
    Event,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
)
from llama_chat.models.demo import DEMO_LABEL
from llama_chat.models.hub import DownloadProgress
from llama_chat.models.loader import LoadedModel, ModelLoadError, load_checked
from llama_chat.settings import Settings


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from, as the command line chose."""

    cache_dir: Path
    model_dir: Path | str | None
    demo: bool
    offline: bool

    def label(self, quant: str) -> str:
        if self.demo:
            return DEMO_LABEL
        return quant if self.model_dir is None else str(self.model_dir)


def load_with_events(
    source: ModelSource,
    settings: Settings,
    quant: str,
    emit: Callable[[Event], None],
    *,
    cancel: threading.Event,
    before_load: Callable[[], None],
) -> LoadedModel | None:
    """Load the model at ``quant``; None: it did not load (ModelLoadFailed says why)."""
    emit(ModelLoading(quant, source.label(quant)))
    started = time.perf_counter()

    def progress(p: DownloadProgress) -> None:
        emit(
            DownloadProgressEvent(
                quant, p.filename, p.bytes_done, p.bytes_total, p.rate_bps, p.eta_s
            )
        )

    try:
        loaded = load_checked(
            settings,
            quant,
            cache_dir=source.cache_dir,
            model=source.model_dir,
            demo=source.demo,
            offline=source.offline,
            on_progress=progress,
            cancel=cancel,
            before_load=before_load,
        )
    except ModelLoadError as exc:
        emit(ModelLoadFailed(quant, str(exc)))
        return None
    seconds = time.perf_counter() - started
    gb = loaded.weights_bytes / 1e9
    emit(ModelLoaded(quant, loaded.path, seconds, gb, source.demo, loaded.config))
    return loaded
