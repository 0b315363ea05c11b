"""Which checkpoint a quant level runs, whether it is complete on disk, and whether it fits in
memory.

Quant levels map to mlx-community repositories on the Hugging Face Hub; ``settings.model_dir``
can point a level at a local directory instead. Downloads (hub.py) go into huggingface_hub's
standard cache (``HF_HOME`` / ``HF_HUB_CACHE`` are honoured; huggingface_hub reads those and
``HF_ENDPOINT`` when it is imported).

Offline mode (the setting, ``offline=True``, or ``HF_HUB_OFFLINE=1``) never touches the network
and says exactly which files are missing.
"""

from __future__ import annotations

import json
import os
import platform
import struct
import threading
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache

from llama_chat.models.hub import (
    ModelStoreError,
    ProgressCallback,
    fetch_snapshot,
    format_gb,
)
from llama_chat.settings import QUANT_LEVELS, Settings
from mlx_model import (
    TOKENIZER_FILES,
    WEIGHTS_FILE,
    WEIGHTS_INDEX_FILE,
    ConfigError,
    MemoryEstimate,
    ModelConfig,
    memory_needed,
)

HUB_REPOS: dict[str, str] = {
    "4bit": "mlx-community/Llama-3.2-3B-Instruct-4bit",
    "8bit": "mlx-community/Llama-3.2-3B-Instruct-8bit",
    "bf16": "mlx-community/Llama-3.2-3B-Instruct-bf16",
}
QUANT_BITS: dict[str, int | None] = {"4bit": 4, "8bit": 8, "bf16": None}
REVISION = "main"

HUB_REQUIRED_FILES: tuple[str, ...] = ("config.json", "tokenizer.json", "tokenizer_config.json")
"""Besides the weights, what a downloaded snapshot must hold to be loadable."""

USABLE_MEMORY_FRACTION = 0.75
"""Share of physical memory the model may take. macOS lets the GPU wire about 75% of unified
memory by default, and the rest keeps the system and the terminal responsive."""


class ModelNotAvailableError(ModelStoreError):
    """The checkpoint is not (fully) on disk and may not or could not be downloaded."""

    def __init__(self, message: str, source: str, missing: list[str]) -> None:
        super().__init__(message)
        self.source = source
        self.missing = missing


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class ModelStore:
    """Finds and fetches the checkpoint for each quant level."""

    def __init__(
        self,
        settings: Settings,
        *,
        offline: bool = False,
        cache_dir: Path | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.settings = settings
        self.offline = (
            offline or settings.offline or constants.HF_HUB_OFFLINE or _env_true("HF_HUB_OFFLINE")
        )
        # None: huggingface_hub's own defaults (HF_HUB_CACHE, HF_ENDPOINT), read at its import.
        self.cache_dir = Path(cache_dir if cache_dir is not None else constants.HF_HUB_CACHE)
        self.endpoint = endpoint

    # -- where a quant level lives ------------------------------------------------------------

    def local_dir(self, quant: str) -> Path | None:
        """The user's local checkpoint directory for this level, if the settings name one."""
        _check_quant(quant)
        directory = self.settings.model_dir.get(quant)
        return Path(directory).expanduser() if directory else None

    def model_id(self, quant: str) -> str:
        """Stable name of the checkpoint (hub repo id or local path), e.g. for KV-cache keys."""
        directory = self.local_dir(quant)
        return str(directory.resolve()) if directory else HUB_REPOS[quant]

    def missing_files(self, quant: str) -> list[str]:
        """Files the checkpoint still lacks on disk (empty when it is ready to load)."""
        return self._locate(quant)[1]

    def resolve(self, quant: str) -> Path:
        """The directory of a complete local checkpoint; never uses the network.

        Raises ModelNotAvailableError naming the missing files.
        """
        directory, missing = self._locate(quant)
        if not missing and directory is not None:
            return directory
        local = self.local_dir(quant)
        if local is not None:
            raise ModelNotAvailableError(
                f"The {quant} checkpoint directory {local} (settings: model_dir.{quant}) is "
                f"missing {', '.join(missing)}. Point model_dir.{quant} at a complete "
                "checkpoint, or remove the entry to download the standard one.",
                str(local),
                missing,
            )
        repo = HUB_REPOS[quant]
        if self.offline:
            advice = (
                "Offline mode is on, so it cannot be downloaded: turn offline mode off (and "
                "unset HF_HUB_OFFLINE), or set model_dir." + quant + " to a local copy."
            )
        else:
            advice = "Download it first."
        raise ModelNotAvailableError(
            f"{repo} is not fully downloaded: missing {', '.join(missing)} "
            f"(looked in the Hugging Face cache at {self.cache_dir}). {advice}",
            repo,
            missing,
        )

    def _locate(self, quant: str) -> tuple[Path | None, list[str]]:
        local = self.local_dir(quant)
        if local is not None:
            return local, _missing_in_directory(local)
        repo = HUB_REPOS[quant]

        def cached(filename: str) -> Path | None:
            found = try_to_load_from_cache(
                repo, filename, cache_dir=self.cache_dir, revision=REVISION
            )
            return Path(found) if isinstance(found, str) else None  # not-found has a sentinel

        missing = [name for name in HUB_REQUIRED_FILES if cached(name) is None]
        index = cached(WEIGHTS_INDEX_FILE)
        if index is not None:
            try:
                shards = _shards_in_index(index)
            except ValueError as exc:
                missing.append(f"{WEIGHTS_INDEX_FILE} ({exc})")
            else:
                missing += [name for name in shards if cached(name) is None]
        elif cached(WEIGHTS_FILE) is None:
            missing.append(f"{WEIGHTS_FILE} (or {WEIGHTS_INDEX_FILE} and its shards)")
        config = cached("config.json")
        return (config.parent if config is not None else None), missing

    def download(
        self,
        quant: str,
        on_progress: ProgressCallback | None = None,
        *,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Make the checkpoint complete on disk and return its directory.

        Already-complete checkpoints return at once without network use; a local directory or
        offline mode never downloads, and an incomplete one raises naming the missing files.
        """
        directory, missing = self._locate(quant)
        if not missing and directory is not None:
            return directory
        if self.local_dir(quant) is None and not self.offline:
            fetch_snapshot(
                HUB_REPOS[quant],
                REVISION,
                cache_dir=self.cache_dir,
                endpoint=self.endpoint,
                on_progress=on_progress,
                cancel=cancel,
            )
        return self.resolve(quant)  # raises, naming the missing files


def _check_quant(quant: str) -> None:
    if quant not in QUANT_LEVELS:
        raise ValueError(f"Unknown quant level {quant!r}; use one of {', '.join(QUANT_LEVELS)}.")


def _shards_in_index(index_path: Path) -> list[str]:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable: {exc!r}") from None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError("its weight_map is empty")
    return sorted(set(map(str, weight_map.values())))


def _missing_in_directory(directory: Path) -> list[str]:
    """What a local checkpoint directory lacks, by the same rules the engine loads with."""
    if not directory.is_dir():
        return ["the directory itself"]
    missing = [] if (directory / "config.json").is_file() else ["config.json"]
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        missing.append(f"a tokenizer ({' or '.join(TOKENIZER_FILES)})")
    index = directory / WEIGHTS_INDEX_FILE
    if index.is_file():
        try:
            missing += [s for s in _shards_in_index(index) if not (directory / s).is_file()]
        except ValueError as exc:
            missing.append(f"{WEIGHTS_INDEX_FILE} ({exc})")
    elif not any(directory.glob("*.safetensors")):
        missing.append(f"{WEIGHTS_FILE} (or {WEIGHTS_INDEX_FILE} and its shards)")
    return missing


MAX_SAFETENSORS_HEADER = 100_000_000
"""safetensors' own limit on the JSON header's size, in bytes."""


def checkpoint_folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be loaded as a checkpoint (one line), or None when it can.

    Cheap checks only (no tensors are read), so a folder typed by the user is refused before it
    is saved: the files the loader needs, a config.json the engine accepts, and weights files
    that are non-empty and start with a safetensors header.
    """
    missing = _missing_in_directory(folder)
    if missing:
        return f"{folder} is not a checkpoint folder: it lacks {', '.join(missing)}."
    try:
        ModelConfig.from_file(folder / "config.json")
    except (ConfigError, OSError) as exc:
        return " ".join(str(exc).split())
    weights = sorted(folder.glob("*.safetensors"))
    index = folder / WEIGHTS_INDEX_FILE
    if index.is_file():
        weights = [folder / name for name in _shards_in_index(index)]
    for path in weights:
        problem = _safetensors_problem(path)
        if problem:
            return f"{path} {problem}: copy or download the checkpoint again."
    return None


def _safetensors_problem(path: Path) -> str | None:
    # The format: an 8-byte little-endian header length, then that many bytes of JSON.
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(8)
            if size == 0:
                return "is empty"
            if len(head) < 8:
                return "is truncated"
            (length,) = struct.unpack("<Q", head)
            if not 2 <= length <= min(size - 8, MAX_SAFETENSORS_HEADER):
                return "is not a safetensors file (bad header length)"
            header = json.loads(file.read(length))
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "is not a safetensors file (its header is not JSON)"
    if not isinstance(header, dict):
        return "is not a safetensors file (its header is not a JSON object)"
    return None


# -- memory ----------------------------------------------------------------------------------


def machine_memory_bytes() -> int:
    """Physical memory of this machine (macOS and Linux)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fit(
    estimate: MemoryEstimate,
    total_memory_bytes: int,
    *,
    usable_fraction: float = USABLE_MEMORY_FRACTION,
) -> str | None:
    """None if the estimate fits in the usable share of memory, else what to change, with the
    numbers, e.g. "8-bit needs 3.4 GB of weights + 3.5 GiB of KV cache at 32K context ..."."""
    usable = int(total_memory_bytes * usable_fraction)
    if estimate.total <= usable:
        return None
    label = "bf16" if estimate.quant_bits is None else f"{estimate.quant_bits}-bit"
    machine = "this Mac" if platform.system() == "Darwin" else "this machine"
    message = (
        f"{label} needs {format_gb(estimate.weights_bytes)} of weights + "
        f"{_gib(estimate.kv_bytes)} of KV cache at {_context(estimate.context_tokens)} context "
        f"(+ {format_gb(estimate.working_bytes)} working memory); {machine} has "
        f"{_installed(total_memory_bytes)}, of which about {format_gb(usable)} can go to the model."
    )
    per_token = estimate.kv_bytes / estimate.context_tokens if estimate.context_tokens else 0
    room = usable - estimate.weights_bytes - estimate.working_bytes
    if room <= 0:  # no context length helps: only smaller weights can
        if estimate.quant_bits == 4:
            return message + " The model does not fit on this machine even without context."
        return message + " The weights alone do not fit: use the 4-bit model."
    advice = []
    if per_token:
        fitting = int(room / per_token)
        fitting -= fitting % 1024 if fitting >= 1024 else 0  # a round number of K
        advice.append(f"a context limit of at most {_context(fitting)}")
    if estimate.kv_bits is None:
        advice.append("an 8-bit KV cache")
    if estimate.quant_bits != 4:
        advice.append("the 4-bit model")
    return message + " Try " + ", or ".join(advice) + "."


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _installed(n: int) -> str:
    # Installed RAM is sold in binary gigabytes ("8 GB" is 8 GiB), so say it the way the box does.
    gib = n / 2**30
    return f"{gib:.0f} GB" if abs(gib - round(gib)) < 0.05 else f"{gib:.1f} GB"


def _context(tokens: int) -> str:
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}K"
    if tokens >= 1024:
        return f"{tokens / 1024:.1f}K"
    return str(tokens)


def memory_check(
    config: ModelConfig, quant: str, context_limit: int, kv_bits: int | None
) -> tuple[str, str | None]:
    """(what it needs, in words; the reason it will not fit or None)."""
    estimate = memory_needed(config, QUANT_BITS[quant], context_limit, kv_bits)
    total = machine_memory_bytes()
    summary = (
        f"{quant} at {context_limit:,} tokens needs about {estimate.total / 1e9:.2f} GB: "
        f"weights {estimate.weights_bytes / 1e9:.2f} GB + KV cache "
        f"{estimate.kv_bytes / 1e9:.2f} GB + working {estimate.working_bytes / 1e9:.2f} GB "
        f"(this machine has {total / 1e9:.0f} GB)."
    )
    return summary, check_fit(estimate, total)
