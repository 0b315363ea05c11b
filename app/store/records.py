"""What the store hands out: a saved chat (`SessionInfo`) and one of its messages
(`StoredMessage`), built from database rows, and the checks on what may be written."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
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
    damage: tuple[str, ...] = ()
    """What of the row could not be read (damaged database) and what was used instead."""


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
    damage: tuple[str, ...] = ()
    """What of the row could not be read and what was used instead; an unknown role is read
    as 'system', which the chat neither shows nor sends to the model."""


def session_from_row(row: sqlite3.Row) -> SessionInfo:
    """The chat in ``row``; a damaged field is replaced and named in ``damage``, never raised."""
    damage: list[str] = []
    settings = _json_field(row, "settings_json", damage)
    if not isinstance(settings, dict):
        if not damage:  # valid JSON, but not an object
            damage.append("settings_json is not an object")
        damage[-1] += ": default settings used"
        settings = {}
    return SessionInfo(
        id=row["id"],
        title=read_text(row, "title", damage),
        created_at=read_time(row, "created_at", damage),
        updated_at=read_time(row, "updated_at", damage),
        system_prompt=read_text(row, "system_prompt", damage),
        settings=settings,
        model=read_text(row, "model", damage),
        quant=read_text(row, "quant", damage),
        template_date=None
        if row["template_date"] is None
        else read_text(row, "template_date", damage),
        damage=tuple(damage),
    )


def message_from_row(row: sqlite3.Row) -> StoredMessage:
    """The message in ``row``; a damaged field is replaced and named in ``damage``."""
    damage: list[str] = []
    role = row["role"]
    if role not in ROLES:
        damage.append(f"unknown role {_short(role)}: hidden")
        role = "system"
    try:
        status = MessageStatus(row["status"])
    except ValueError:
        damage.append(f"unknown status {_short(row['status'])}: read as error")
        status = MessageStatus.ERROR
    tool_calls = None
    if row["tool_calls_json"] is not None:
        tool_calls = _json_field(row, "tool_calls_json", damage)
        if tool_calls is not None and not _tool_calls_shape(tool_calls):
            damage.append("tool_calls_json is not a list of calls: dropped")
            tool_calls = None
    return StoredMessage(
        id=row["id"],
        session_id=row["session_id"],
        parent_id=row["parent_id"],
        role=role,
        content=read_text(row, "content", damage),
        tool_calls=tool_calls,
        status=status,
        created_at=read_time(row, "created_at", damage),
        seq=row["seq"],
        damage=tuple(damage),
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def read_time(row: sqlite3.Row, key: str, damage: list[str]) -> datetime:
    """An ISO-8601 column as a datetime; the epoch (and a note in ``damage``) if unreadable."""
    value = row[key]
    try:
        moment = datetime.fromisoformat(value)
        # The app writes UTC with an offset; a bare time would not compare with the others.
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        damage.append(f"{key} {_short(value)} is not a time: read as 1970-01-01")
        return _EPOCH


def read_text(row: sqlite3.Row, key: str, damage: list[str]) -> str:
    """A text column as str: bytes decoded (bad bytes replaced), other values spelled out."""
    value = row[key]
    if isinstance(value, str):
        return value
    damage.append(f"{key} is {type(value).__name__}, not text")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _json_field(row: sqlite3.Row, key: str, damage: list[str]) -> Any:
    try:
        return json.loads(row[key])
    except (TypeError, ValueError, RecursionError):
        damage.append(f"{key} is not valid JSON")
        return None


def _tool_calls_shape(value: Any) -> bool:
    """A list of calls as the app writes them: {"name", "arguments"} or {"function": {...}}."""
    if not isinstance(value, list):
        return False
    for call in value:
        function = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("arguments", {}), dict):
            return False
    return True


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


def damage_lines(session: SessionInfo, messages: list[StoredMessage]) -> list[str]:
    """One line per damaged field of a chat and its messages, naming the chat and message."""
    where = f"chat {session.id}"
    lines = [f"{where}: {problem}" for problem in session.damage]
    lines += [f"{where}, message {m.id}: {problem}" for m in messages for problem in m.damage]
    return lines
