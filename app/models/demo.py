"""The demo checkpoint: a tiny random-weight Llama 3.2 that needs no download.

It has the real architecture and Meta's real tokenizer, so every part of the app works, but
its weights are random: the text it writes is meaningless. The app says so wherever it shows it.
Its weights let it write only a small list of plain words (and the end of its turn), so the
meaningless text is at least harmless and readable: no special tokens, no stray bytes.
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
_VERSION = 2

DEMO_WORDS = (
    "the a and of to in is it that for on with as was at by from this are be or an not have "
    "one all but we can they there when what your which their will if do about each time "
    "how up out them then she many some so these would other into has more her two like him "
    "see could no make than first been its who now people my made over did down only way "
    "find use may water long little very after words called just where most know get "
    "through back much before go good new write our used me man too any day same right look "
    "think also around another came come work three word must because does part even place "
    "well such here take why things help put years different away again off went old number "
    "great tell men say small every found still between name should home big give air line "
    "set own under read last never us left end along while might next sound below saw "
    "something thought both few those always looked show large often together asked house "
    "world going want school important until form food keep children feet land side without "
    "boy once animals life enough took sometimes four head above kind began almost live page "
    "got earth need far hand high year mother light parts country father let night following "
    "picture being study second eyes soon times story boys since white days ever paper hard "
    "near sentence better best across during today others however sure means knew try told "
    "young miles sun ways thing whole hear example heard several change answer room sea "
    "against top turned learn point city play toward five using himself usually money"
).split()
"""Ordinary lowercase words the demo may write (each one token after a space)."""
STOP_BIAS = 0.0
"""The end of turn is as likely as any one word. A higher bias ends answers sooner but makes
it the greedy pick (temperature 0), so the demo would write nothing at all."""


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
        make_tiny_checkpoint(
            staging, asset_path("tokenizer.model"), quant_bits=4, output_ids=demo_output_ids()
        )
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


def demo_output_ids() -> dict[int, float]:
    """What the demo may write: the ids of " word" for each plain word, and its end of turn."""
    from mlx_model import Tokenizer

    tokenizer = Tokenizer.from_tiktoken_file(asset_path("tokenizer.model"))
    ids: dict[int, float] = {}
    for word in DEMO_WORDS:
        encoded = tokenizer.encode(" " + word)
        if len(encoded) == 1:  # a word split into pieces could be glued into other words
            ids[encoded[0]] = 0.0
    ids[tokenizer.eot_id] = STOP_BIAS
    return ids


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
