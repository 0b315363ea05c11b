"""The demo checkpoint: a tiny random-weight Llama 3.2 that needs no download.

It has the real architecture and Meta's real tokenizer, so every part of the app works, but
its weights are random: the text it writes is meaningless. The app says so wherever it shows it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from llama_chat.resources import asset_path

DEMO_LABEL = "demo (random weights: meaningless text)"
_MARKER = "llama-chat-demo.json"
_VERSION = 1


def ensure_demo_checkpoint(cache_dir: Path) -> Path:
    """Build the demo checkpoint under ``cache_dir`` once; later calls reuse it.

    Several processes may build it at once (two first runs with --demo): each builds in its own
    temporary folder and renames it into place; whoever loses the race uses the winner's.
    """
    from mlx_model.testing import make_tiny_checkpoint

    target = cache_dir / "demo-checkpoint"
    if _is_current(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="demo-checkpoint.", suffix=".tmp", dir=cache_dir))
    try:
        make_tiny_checkpoint(staging, asset_path("tokenizer.model"), quant_bits=4)
        (staging / _MARKER).write_text(json.dumps({"version": _VERSION}))
        if target.exists() and not _is_current(target):
            _move_aside(target, cache_dir)  # an older demo version, or a half-built folder
        try:
            os.rename(staging, target)  # atomic; fails if another builder got there first
        except OSError:
            if not _is_current(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _is_current(target: Path) -> bool:
    try:
        return json.loads((target / _MARKER).read_text()).get("version") == _VERSION
    except (OSError, ValueError, AttributeError):
        return False


def _move_aside(target: Path, cache_dir: Path) -> None:
    # Renamed first, so no other builder ever sees a half-deleted folder at the target path.
    trash = Path(tempfile.mkdtemp(prefix="demo-checkpoint.", suffix=".old", dir=cache_dir))
    try:
        os.rename(target, trash / "old")
    except OSError:
        pass  # another builder moved or replaced it already
    shutil.rmtree(trash, ignore_errors=True)
