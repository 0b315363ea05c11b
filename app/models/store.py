"""Which checkpoint to run, getting it onto the disk, and whether it fits in memory.

Quant levels map to mlx-community repositories on the Hugging Face Hub; ``settings.model_dir``
can point a level at a local directory instead. Downloads go through huggingface_hub into its
standard cache (``HF_HOME`` / ``HF_HUB_CACHE`` are honoured; huggingface_hub reads those and
``HF_ENDPOINT`` when it is imported) and fetch only the files the engine reads. An interrupted
transfer is resumed with a Range request by huggingface_hub itself.

Offline mode (the setting, ``offline=True``, or ``HF_HUB_OFFLINE=1``) never touches the network
and says exactly which files are missing.
"""

from __future__ import annotations

import fnmatch
import json
import os
import platform
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

from llama_chat.settings import QUANT_LEVELS, Settings
from mlx_model import ModelConfig, QuantSpec
from mlx_model.generate import PREFILL_STEP
from mlx_model.kv_cache import KV_GROUP_SIZE
from mlx_model.tokenizer import TOKENIZER_FILES
from mlx_model.weights import INDEX_FILE, SINGLE_FILE

HUB_REPOS: dict[str, str] = {
    "4bit": "mlx-community/Llama-3.2-3B-Instruct-4bit",
    "8bit": "mlx-community/Llama-3.2-3B-Instruct-8bit",
    "bf16": "mlx-community/Llama-3.2-3B-Instruct-bf16",
}
QUANT_BITS: dict[str, int | None] = {"4bit": 4, "8bit": 8, "bf16": None}
REVISION = "main"

DOWNLOAD_PATTERNS: tuple[str, ...] = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    INDEX_FILE,
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
"""Repository files the app needs; anything else (READMEs, other formats) is never fetched."""

HUB_REQUIRED_FILES: tuple[str, ...] = ("config.json", "tokenizer.json", "tokenizer_config.json")
"""Besides the weights, what a downloaded snapshot must hold to be loadable."""

DISK_HEADROOM_BYTES = 256 * 1024**2  # never fill the disk to the last byte

USABLE_MEMORY_FRACTION = 0.75
"""Share of physical memory the model may take. macOS lets the GPU wire about 75% of unified
memory by default, and the rest keeps the system and the terminal responsive."""


class ModelStoreError(RuntimeError):
    """A checkpoint cannot be found, fetched or used; the message says what to do."""


class ModelNotAvailableError(ModelStoreError):
    """The checkpoint is not (fully) on disk and may not or could not be downloaded."""

    def __init__(self, message: str, source: str, missing: list[str]) -> None:
        super().__init__(message)
        self.source = source
        self.missing = missing


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
        index = cached(INDEX_FILE)
        if index is not None:
            try:
                shards = _shards_in_index(index)
            except ValueError as exc:
                missing.append(f"{INDEX_FILE} ({exc})")
            else:
                missing += [name for name in shards if cached(name) is None]
        elif cached(SINGLE_FILE) is None:
            missing.append(f"{SINGLE_FILE} (or {INDEX_FILE} and its shards)")
        config = cached("config.json")
        return (config.parent if config is not None else None), missing

    # -- downloading --------------------------------------------------------------------------

    def download(
        self,
        quant: str,
        on_progress: ProgressCallback | None = None,
        *,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Make the checkpoint complete on disk and return its directory.

        Already-complete checkpoints return at once without network use. Otherwise the hub's
        file list is fetched, free disk space is checked against the sizes still needed, and
        each missing file is downloaded (resuming after network hiccups). Setting ``cancel``
        stops at the next chunk; files already finished stay in the cache.
        """
        directory, missing = self._locate(quant)
        if not missing and directory is not None:
            return directory
        if self.local_dir(quant) is not None or self.offline:
            return self.resolve(quant)  # raises, naming the missing files
        repo = HUB_REPOS[quant]
        with _network_errors_explained(repo, self.endpoint):
            commit, sizes = self._remote_files(repo)
        # Checked against the hub's current commit, so an update never mixes two snapshots.
        to_fetch = {
            name: size
            for name, size in sizes.items()
            if not isinstance(
                try_to_load_from_cache(repo, name, cache_dir=self.cache_dir, revision=commit),
                str,
            )
        }
        self._check_disk_space(repo, sum(to_fetch.values()))
        tracker = _ProgressTracker(sum(to_fetch.values()), on_progress, cancel)
        for name in to_fetch:
            tracker.start_file(name)
            with _network_errors_explained(repo, self.endpoint):
                hf_hub_download(
                    repo,
                    name,
                    revision=REVISION,
                    cache_dir=self.cache_dir,
                    endpoint=self.endpoint,
                    tqdm_class=tracker.bar_class(),
                )
            tracker.finish_file(name, to_fetch[name])
        return self.resolve(quant)

    def _remote_files(self, repo: str) -> tuple[str, dict[str, int]]:
        """The current commit and the size of every needed file, from the hub's listing."""
        api = HfApi(endpoint=self.endpoint)
        try:
            info = api.model_info(repo, revision=REVISION, files_metadata=True)
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

    def _check_disk_space(self, repo: str, needed: int) -> None:
        probe = self.cache_dir
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent  # the cache dir may not exist yet; its disk does
        free = shutil.disk_usage(probe).free
        if needed + DISK_HEADROOM_BYTES > free:
            raise NotEnoughDiskSpaceError(
                f"Downloading {repo} needs {_gb(needed)} but only {_gb(free)} is free on the disk "
                f"holding {self.cache_dir}. Free some space, or set HF_HOME to a folder on a "
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
    index = directory / INDEX_FILE
    if index.is_file():
        try:
            missing += [s for s in _shards_in_index(index) if not (directory / s).is_file()]
        except ValueError as exc:
            missing.append(f"{INDEX_FILE} ({exc})")
    elif not any(directory.glob("*.safetensors")):
        missing.append(f"{SINGLE_FILE} (or {INDEX_FILE} and its shards)")
    return missing


# -- memory ----------------------------------------------------------------------------------

_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class MemoryEstimate:
    """What running a model costs in memory, in bytes."""

    weights_bytes: int
    kv_bytes: int
    """The KV cache when the whole context is in use."""
    working_bytes: int
    """Activations of one prefill chunk, logits, and runtime overhead."""
    quant_bits: int | None = None
    context_tokens: int = 0
    kv_bits: int | None = None

    @property
    def total(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.working_bytes


RUNTIME_OVERHEAD_BYTES = 256 * 1024**2  # Python, MLX's allocator slack, the interface


def _module_shapes(config: ModelConfig) -> list[tuple[str, int, int]]:
    """(module path, output width, input width) of every weight matrix mlx can quantize."""
    h, q, kv = config.hidden_size, config.num_attention_heads, config.num_key_value_heads
    d, inter = config.head_dim, config.intermediate_size
    shapes = [("model.embed_tokens", config.vocab_size, h)]
    for i in range(config.num_hidden_layers):
        prefix = f"model.layers.{i}"
        shapes += [
            (f"{prefix}.self_attn.q_proj", q * d, h),
            (f"{prefix}.self_attn.k_proj", kv * d, h),
            (f"{prefix}.self_attn.v_proj", kv * d, h),
            (f"{prefix}.self_attn.o_proj", h, q * d),
            (f"{prefix}.mlp.gate_proj", inter, h),
            (f"{prefix}.mlp.up_proj", inter, h),
            (f"{prefix}.mlp.down_proj", h, inter),
        ]
    if not config.tie_word_embeddings:
        shapes.append(("lm_head", config.vocab_size, h))
    return shapes


def memory_needed(
    config: ModelConfig,
    quant_bits: int | None,
    context_tokens: int,
    kv_bits: int | None,
    *,
    dtype_bytes: int | None = None,
) -> MemoryEstimate:
    """Memory to run ``config`` at ``quant_bits`` (None: unquantized) with a full context.

    Weights: each matrix at ``bits/8`` bytes per entry plus a scale and a bias per group (MLX's
    affine quantization), using the checkpoint's own per-layer spec when it has one at these
    bits. KV: 2 (K and V) x layers x kv_heads x head_dim x bytes x tokens, where 8-bit KV also
    stores a scale and bias per group of 64. ``dtype_bytes`` defaults to the checkpoint dtype.
    """
    unit = dtype_bytes or _DTYPE_BYTES.get(config.torch_dtype, 2)
    if quant_bits is None:
        spec = None
    elif config.quantization is not None and config.quantization.bits == quant_bits:
        spec = config.quantization
    else:
        spec = QuantSpec(bits=quant_bits, group_size=64)
    weights = (2 * config.num_hidden_layers + 1) * config.hidden_size * unit  # RMSNorm weights
    for path, out_width, in_width in _module_shapes(config):
        layer = spec.for_module(path) if spec is not None else None
        if layer is not None and in_width % layer[1]:
            layer = None  # MLX leaves layers that do not split into whole groups unquantized
        if layer is None:
            weights += out_width * in_width * unit
        else:
            bits, group = layer
            weights += out_width * in_width * bits // 8 + out_width * (in_width // group) * 2 * unit

    per_position = config.num_key_value_heads * config.head_dim  # per layer, per K or V
    if kv_bits is None:
        kv_entry_bytes = per_position * unit
    else:
        kv_entry_bytes = per_position * kv_bits // 8 + (per_position // KV_GROUP_SIZE) * 2 * unit
    kv = 2 * config.num_hidden_layers * kv_entry_bytes * context_tokens

    chunk = min(PREFILL_STEP, max(context_tokens, 1))
    activations = chunk * (4 * config.hidden_size + 3 * config.intermediate_size) * 4
    logits = config.vocab_size * 4 * 2
    working = activations + logits + RUNTIME_OVERHEAD_BYTES
    return MemoryEstimate(weights, kv, working, quant_bits, context_tokens, kv_bits)


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
        f"{label} needs {_gb(estimate.weights_bytes)} of weights + {_gib(estimate.kv_bytes)} of "
        f"KV cache at {_context(estimate.context_tokens)} context "
        f"(+ {_gb(estimate.working_bytes)} working memory); {machine} has "
        f"{_installed(total_memory_bytes)}, of which about {_gb(usable)} can go to the model."
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


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


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
