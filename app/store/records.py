"""What the store hands out: a saved chat (`SessionInfo`) and one of its messages
(`StoredMessage`), built from database rows, and the checks on what may be written."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llama_chat.status import MessageStatus

ROLES: tuple[str, ...] = ("system", "user", "assistant", "ipython", "tool")
"""Message roles of Llama 3.2's chat format ("tool" is accepted as another name for ipython)."""


class NotFoundError(LookupError):
    """No session or message with that id."""


def session_of_message(conn: sqlite3.Connection, message_id: int) -> int:
    """The chat that holds ``message_id``; NotFoundError if there is no such message."""
    row = conn.execute("SELECT session_id FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"No message with id {message_id}.")
    return row[0]


@dataclass(frozen=True)
class SessionInfo:
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    system_prompt: str
    settings: dict[str, Any]
    """Per-chat sampling settings (temperature, top_p, ...) as saved with the chat."""
    model: str
    quant: str
    template_date: str | None
    """The date the chat template put in the system preamble, so a resumed chat renders the
    same prompt (and reuses its KV cache) on another day."""


@dataclass(frozen=True)
class StoredMessage:
    id: int
    session_id: int
    parent_id: int | None
    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None
    status: MessageStatus
    created_at: datetime
    seq: int


def session_from_row(row: sqlite3.Row) -> SessionInfo:
    return SessionInfo(
        id=row["id"],
        title=row["title"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        system_prompt=row["system_prompt"],
        settings=json.loads(row["settings_json"]),
        model=row["model"],
        quant=row["quant"],
        template_date=row["template_date"],
    )


def message_from_row(row: sqlite3.Row) -> StoredMessage:
    tool_calls = row["tool_calls_json"]
    return StoredMessage(
        id=row["id"],
        session_id=row["session_id"],
        parent_id=row["parent_id"],
        role=row["role"],
        content=row["content"],
        tool_calls=None if tool_calls is None else json.loads(tool_calls),
        status=MessageStatus(row["status"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        seq=row["seq"],
    )


def dump_tool_calls(tool_calls: list[dict[str, Any]] | None) -> str | None:
    return None if tool_calls is None else json.dumps(tool_calls, ensure_ascii=False)


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown message role {role!r}; use one of {', '.join(ROLES)}.")


def check_status(status: str) -> MessageStatus:
    """The status as a MessageStatus; ValueError naming the allowed ones for anything else."""
    try:
        return MessageStatus(status)
    except ValueError:
        allowed = ", ".join(MessageStatus)
        raise ValueError(f"Unknown message status {status!r}; use one of {allowed}.") from None
