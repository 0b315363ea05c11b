"""One line under the chat: model, context used, speed, memory; load progress when loading."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from llama_chat.events import DownloadProgressEvent, ModelLoaded, TurnStats

DTYPE_NAMES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def loaded_precision(event: ModelLoaded) -> str:
    """The precision of the weights that were loaded, from the checkpoint's config.json: a
    folder given with --model need not be the precision the settings name."""
    config = event.config
    if config is None:
        return event.quant
    if config.quantization is not None:
        return f"{config.quantization.bits}bit"
    return DTYPE_NAMES.get(config.torch_dtype, config.torch_dtype)


def model_label(event: ModelLoaded, model_dir: Path | None) -> str:
    """How the status bar names the loaded model."""
    precision = loaded_precision(event)
    if event.demo:
        return f"DEMO {precision} · random weights: meaningless text"
    if model_dir is not None:
        return f"{Path(model_dir).name} · {precision}"
    return f"Llama 3.2 3B Instruct · {precision}"


COMPACT_BELOW = 100
"""Below this many columns the status bar abbreviates (macOS Terminal opens at 80)."""


def compact_model_text(text: str) -> str:
    """The model's name for a narrow bar: the demo keeps its warning, in short."""
    name, _, rest = text.partition(" · random weights")
    return f"{name} · random" if rest else text


class StatusBar(Horizontal):
    """Shows what the engine is doing. Every method is called on the UI thread."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model_text = ""
        self.context_text = ""
        self.context_used = 0
        """Tokens in the context now (kept so a new limit can be shown at once)."""
        self._stats: TurnStats | None = None
        self._demo = self._failed = False
        self.activity_text = ""

    def compose(self) -> ComposeResult:
        yield Label("", id="status-model")
        yield ProgressBar(id="status-progress", show_eta=False, show_percentage=True)
        # What is happening now ("writing…"); the last turn's speed when nothing is.
        yield Label("", id="status-info")
        yield Label("", id="status-context")
        yield ProgressBar(id="context-bar", show_eta=False, show_percentage=False)

    def on_mount(self) -> None:
        self.query_one("#status-progress").display = False
        self._set_model("no model loaded yet", demo=False)
        self.set_context(0, 0)

    # -- model --------------------------------------------------------------------------------

    def model_loading(self, label: str) -> None:
        self._set_model(f"loading {label}…", demo=False)
        self._progress(total=None)

    def download_progress(self, event: DownloadProgressEvent) -> None:
        done, total = event.bytes_done / 1e9, max(event.bytes_total, 1) / 1e9
        eta = f", {event.eta_s:.0f} s left" if event.eta_s is not None else ""
        self.set_activity(
            f"downloading {event.quant}: {done:.2f}/{total:.2f} GB at "
            f"{event.rate_bps / 1e6:.1f} MB/s{eta}"
        )
        self._progress(total=max(event.bytes_total, 1), progress=event.bytes_done)

    def model_loaded(self, label: str, *, demo: bool) -> None:
        self._set_model(label, demo=demo)
        self._progress(hide=True)
        self.set_activity("")

    def model_failed(self, quant: str) -> None:
        self._set_model(f"no model ({quant} failed to load)", demo=False, failed=True)
        self._progress(hide=True)
        self.set_activity("")

    def on_resize(self) -> None:
        self._set_model(self.model_text, demo=self._demo, failed=self._failed)
        self._show_info()

    @property
    def compact(self) -> bool:
        return 0 < self.size.width < COMPACT_BELOW

    def _set_model(self, text: str, *, demo: bool, failed: bool = False) -> None:
        self.model_text, self._demo, self._failed = text, demo, failed
        label = self.query_one("#status-model", Label)
        label.update(Text(compact_model_text(text) if self.compact else text))
        label.set_class(demo, "-demo")
        label.set_class(failed, "-failed")

    def _progress(
        self, *, total: float | None = None, progress: float = 0, hide: bool = False
    ) -> None:
        bar = self.query_one("#status-progress", ProgressBar)
        bar.display = not hide
        if not hide:
            bar.update(total=total, progress=progress)

    # -- turns --------------------------------------------------------------------------------

    def set_activity(self, text: str) -> None:
        self.activity_text = text
        self._show_info()

    @property
    def speed_text(self) -> str:
        """The last answer's time to first token and speed (and peak memory, when there is
        room): abbreviated, never dropped, in a narrow terminal."""
        stats = self._stats
        if stats is None:
            return ""
        if self.compact:
            return f"{stats.ttft_s:.1f}s·{stats.generation_tps:.0f}t/s"
        return (
            f"TTFT {stats.ttft_s:.2f}s · {stats.generation_tps:.1f} tok/s · "
            f"{stats.peak_memory_gb:.2f} GB peak"
        )

    def _show_info(self) -> None:
        info = self.query_one("#status-info", Label)
        info.update(Text(self.activity_text or self.speed_text, no_wrap=True, overflow="ellipsis"))
        info.set_class(bool(self.activity_text), "-activity")

    def prefill(self, done: int, total: int) -> None:
        self.set_activity(f"reading prompt {done}/{total}")

    def set_context(self, used: int, limit: int) -> None:
        self.context_used = used
        self.context_text = f"ctx {used:,}/{limit:,}" if limit else "ctx –"
        self.query_one("#status-context", Label).update(self.context_text)
        bar = self.query_one("#context-bar", ProgressBar)
        bar.update(total=max(limit, 1), progress=min(used, max(limit, 1)))

    def turn_stats(self, stats: TurnStats) -> None:
        self._stats = stats
        self._show_info()
        if stats.context_limit:
            self.set_context(stats.context_used, stats.context_limit)
