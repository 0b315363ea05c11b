"""The one checked way to load a model: find it, check it fits, free the old one, load it.

The CLI and the controller both load through ``load_checked``, so a checkpoint that is missing,
corrupt, or too big for this machine is refused the same way everywhere, with one line that says
what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlx.utils import tree_flatten

import mlx_model
from llama_chat.models.hub import DownloadProgress, ModelStoreError
from llama_chat.models.resolve import resolve_checkpoint
from llama_chat.models.store import check_fit, machine_memory_bytes
from llama_chat.settings import Settings

# What a broken checkpoint or an unlucky machine raises; anything else is a bug and propagates.
# ConfigError, WeightsError and TokenizerFileError are ValueErrors.
_EXPECTED_FAILURES = (OSError, ValueError, ModelStoreError, RecursionError, MemoryError)


class ModelLoadError(Exception):
    """A model could not be loaded; the message is one line a person can act on."""


@dataclass(frozen=True)
class LoadedModel:
    model: mlx_model.Model
    tokenizer: mlx_model.Tokenizer
    config: mlx_model.ModelConfig
    path: Path
    """The checkpoint directory."""
    model_id: str
    """Stable id: the hub repo id, the resolved folder, or "demo"."""
    quant: str
    weights_bytes: int


def load_checked(
    settings: Settings,
    quant: str,
    *,
    cache_dir: Path,
    model: str | Path | None = None,
    demo: bool = False,
    offline: bool = False,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    cancel: threading.Event | None = None,
    before_load: Callable[[], None] | None = None,
) -> LoadedModel:
    """Resolve (downloading if allowed), check the memory fit, call ``before_load`` (where the
    caller frees the model it holds), then load. Expected failures raise ModelLoadError."""
    path: Path | None = None
    try:
        path, model_id = resolve_checkpoint(
            settings,
            quant,
            cache_dir=cache_dir,
            model=model,
            demo=demo,
            offline=offline,
            on_progress=on_progress,
            cancel=cancel,
        )
        config = mlx_model.ModelConfig.from_file(path / "config.json")
        bits = config.quantization.bits if config.quantization else None
        estimate = mlx_model.memory_needed(config, bits, settings.context_limit, settings.kv_bits)
        problem = check_fit(estimate, machine_memory_bytes())
        if problem:
            raise ModelLoadError(problem)
        if before_load is not None:
            before_load()
        loaded, tokenizer = mlx_model.load(path)
    except _EXPECTED_FAILURES as exc:
        raise ModelLoadError(_one_line(exc, path)) from exc
    return LoadedModel(
        model=loaded,
        tokenizer=tokenizer,
        config=loaded.config,
        path=path,
        model_id=model_id,
        quant=quant,
        weights_bytes=sum(array.nbytes for _, array in tree_flatten(loaded.parameters())),
    )


def _one_line(exc: BaseException, checkpoint: Path | None) -> str:
    where = f" in {checkpoint}" if checkpoint is not None else ""
    if isinstance(exc, RecursionError):
        return (
            f"A file{where} is nested too deeply to read, so it is corrupt or not part of a "
            "checkpoint; download the checkpoint again."
        )
    if isinstance(exc, MemoryError):
        return (
            f"Ran out of memory loading the model{where}; close other apps, or use the 4-bit "
            "model or a shorter context limit."
        )
    return " ".join(str(exc).split()) or f"{type(exc).__name__} loading the model{where}"
