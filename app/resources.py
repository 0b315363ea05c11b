"""Files shipped with the app (the stylesheet, Meta's tokenizer for the demo, notices)."""

from __future__ import annotations

import sys
from pathlib import Path

_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "assets",  # a source checkout or editable install
    Path(sys.prefix) / "share" / "llama-chat" / "assets",  # an installed wheel's data files
)


def asset_path(name: str) -> Path:
    for folder in _CANDIDATES:
        if (folder / name).exists():
            return folder / name
    searched = ", ".join(str(folder) for folder in _CANDIDATES)
    raise FileNotFoundError(
        f"asset {name!r} not found (looked in {searched}); reinstall llama-chat"
    )
