"""Writing a saved chat to a Markdown or JSON file the user can find."""

from __future__ import annotations

import json
import re
from pathlib import Path

from llama_chat.paths import atomic_write_text
from llama_chat.store.sessions import SessionStore

EXPORT_FORMATS = {"markdown": ".md", "json": ".json"}


def default_export_dir() -> Path:
    """~/Documents when there is one (macOS always has it), else the current directory."""
    documents = Path.home() / "Documents"
    return documents if documents.is_dir() else Path.cwd()


def export_session(store: SessionStore, session_id: int, fmt: str, folder: Path) -> Path:
    """Write the chat to a new file in ``folder`` (never overwriting one); returns its path."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    title = store.get_session(session_id).title
    if fmt == "markdown":
        text = store.export_markdown(session_id)
    else:
        text = json.dumps(store.export_json(session_id), indent=2, ensure_ascii=False) + "\n"
    stem = f"llama-chat-{session_id}-{_slug(title)}"
    suffix = EXPORT_FORMATS[fmt]
    path = folder / f"{stem}{suffix}"
    counter = 2
    while path.exists():
        path = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    atomic_write_text(path, text)
    return path


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w]+", "-", title.lower(), flags=re.UNICODE).strip("-")
    return slug[:40].rstrip("-") or "chat"
