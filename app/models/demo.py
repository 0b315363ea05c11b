"""The demo checkpoint: a tiny random-weight Llama 3.2 that needs no download.

It has the real architecture and Meta's real tokenizer, so every part of the app works, but
its weights are random: the text it writes is meaningless. The app says so wherever it shows it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from llama_chat.resources import asset_path

DEMO_LABEL = "demo (random weights: meaningless text)"
_MARKER = "llama-chat-demo.json"
_VERSION = 1


def ensure_demo_checkpoint(cache_dir: Path) -> Path:
    """Build the demo checkpoint under ``cache_dir`` once; later calls reuse it."""
    from mlx_model.testing import make_tiny_checkpoint

    target = cache_dir / "demo-checkpoint"
    marker = target / _MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()).get("version") == _VERSION:
                return target
        except (OSError, ValueError):
            pass
    staging = cache_dir / "demo-checkpoint.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    make_tiny_checkpoint(staging, asset_path("tokenizer.model"), quant_bits=4)
    (staging / _MARKER).write_text(json.dumps({"version": _VERSION}))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
