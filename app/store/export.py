"""Chats as files: JSON export and import (all branches), Markdown (the active branch), and
writing either to a new file the user can find."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_chat.paths import atomic_write_text
from llama_chat.status import MessageStatus
from llama_chat.store.records import ROLES, SessionInfo

if TYPE_CHECKING:
    from llama_chat.store.sessions import SessionStore

EXPORT_FORMAT = "llama-chat-session"
EXPORT_VERSION = 1
EXPORT_FORMATS = {"markdown": ".md", "json": ".json"}
MARKDOWN_NOTE_HEADING = "Summary of the earlier turns"
MARKDOWN_NOTE_LEAD = "Rolling memory: the model read this note instead of the turns above."
MAX_STORED_INT = 2**63 - 1
"""SQLite's largest integer: a bigger size or count cannot be stored."""


class SessionImportError(ValueError):
    """An exported session file that cannot be imported; names the offending field."""


def export_json(store: SessionStore, session_id: int) -> dict[str, Any]:
    """The whole chat, all branches, as plain JSON data without database ids.

    Messages are listed in the order written and numbered from 1; ``parent`` refers to that
    number. So exporting an imported export gives back the same data.
    """
    session = store.get_session(session_id)
    messages = store.messages(session_id)
    local_id = {m.id: number for number, m in enumerate(messages, start=1)}
    chosen = store.chosen_children(session_id)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "session": {
            "title": session.title,
            "created_at": session.created_at.isoformat(timespec="microseconds"),
            "updated_at": session.updated_at.isoformat(timespec="microseconds"),
            "system_prompt": session.system_prompt,
            "settings": session.settings,
            "model": session.model,
            "quant": session.quant,
            "template_date": session.template_date,
        },
        "messages": [
            {
                "id": local_id[m.id],
                "parent": None if m.parent_id is None else local_id[m.parent_id],
                "role": m.role,
                "content": m.content,
                "tool_calls": m.tool_calls,
                "status": m.status,
                "created_at": m.created_at.isoformat(timespec="microseconds"),
                # Only on a branch the user chose at its fork; older readers ignore it.
                **({"selected": True} if m.id in chosen else {}),
            }
            for m in messages
        ],
        # Added after version 1 shipped; an export without it has no documents.
        "documents": [
            {
                "message": local_id[d.message_id],
                "name": d.name,
                "size_bytes": d.size_bytes,
                "tokens": d.tokens,
                "text": d.text,
                "summary": d.summary,
                "created_at": d.created_at.isoformat(timespec="microseconds"),
            }
            for d in store.documents(session_id)
        ],
        # Added later too: rolling-memory notes, each under the message its window started at.
        "memory_notes": [
            {"message": local_id[message_id], "note": note, "updated_at": updated_at}
            for message_id, note, updated_at in store.dated_memory_notes(session_id)
        ],
    }


def import_json(store: SessionStore, data: Mapping[str, Any]) -> SessionInfo:
    """Add a chat from ``export_json`` data as a new session (new ids), in one transaction.

    Raises SessionImportError naming the first bad field; nothing is written then.
    """
    session, messages = _validate_export(data)
    documents = _validate_documents(data, len(messages))
    notes = _validate_notes(data, len(messages))
    _check_unicode(session, messages, documents, notes)
    return store.add_session_tree(session, messages, documents, notes)


def json_text(data: Mapping[str, Any]) -> str:
    """Export data as indented JSON text, non-ASCII kept readable but every control character
    escaped: json leaves DEL and the C1 controls (U+0080-U+009F) raw, and a terminal acts on
    them when the export is printed."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", text)


def export_markdown(store: SessionStore, session_id: int) -> str:
    """The active branch as a readable Markdown document."""
    session = store.get_session(session_id)
    lines = [
        f"# {session.title}",
        "",
        f"- Created: {session.created_at:%Y-%m-%d %H:%M} UTC",
        f"- Model: {session.model} ({session.quant})",
        "",
    ]
    if session.system_prompt:
        lines += ["## System", "", session.system_prompt, ""]
    headings = {"user": "User", "assistant": "Assistant", "system": "System"}
    notes = store.memory_notes(session_id)
    for message in store.active_path(session_id):
        if message.id in notes:  # the model's window started here, reading this note first
            lines += [f"## {MARKDOWN_NOTE_HEADING}", "", f"*{MARKDOWN_NOTE_LEAD}*", ""]
            lines += [notes[message.id], ""]
        if message.role in ("ipython", "tool"):
            lines += ["## Tool result", "", _fenced(message.content, ""), ""]
        else:
            lines += [f"## {headings[message.role]}", ""]
            if message.content:
                lines += [message.content, ""]
        if message.tool_calls:
            body = json.dumps(message.tool_calls, indent=2, ensure_ascii=False)
            lines += ["Tool call:", "", _fenced(body, "json"), ""]
        if message.status != MessageStatus.COMPLETE:
            lines += [f"*({message.status})*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def export_session(store: SessionStore, session_id: int, fmt: str, folder: Path) -> Path:
    """Write the chat to a new file in ``folder`` (never overwriting one); returns its path."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    title = store.get_session(session_id).title
    if fmt == "markdown":
        text = export_markdown(store, session_id)
    else:
        text = json_text(export_json(store, session_id))
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


def _fenced(text: str, language: str) -> str:
    # A fence longer than any backtick run inside, so the content cannot close it early.
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _validate_export(data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check exported data field by field; returns normalised (session, messages)."""

    def fail(where: str, problem: str) -> SessionImportError:
        return SessionImportError(f"Cannot import chat: {where} {problem}.")

    def field_of(
        obj: Mapping[str, Any],
        key: str,
        kind: type | tuple[type, ...],
        where: str,
        *,
        optional: bool = False,
    ) -> Any:
        if key not in obj:
            raise fail(f"{where}.{key}", "is missing")
        value = obj[key]
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise fail(f"{where}.{key}", f"has the wrong type ({type(value).__name__})")
        return value

    def timestamp(obj: Mapping[str, Any], key: str, where: str) -> str:
        return parse_time(field_of(obj, key, str, where), f"{where}.{key}")

    if not isinstance(data, Mapping):
        raise fail("the file", "is not a JSON object")
    if data.get("format") != EXPORT_FORMAT:
        raise fail("format", f"is {data.get('format')!r}, expected {EXPORT_FORMAT!r}")
    if data.get("version") != EXPORT_VERSION:
        raise fail(
            "version",
            f"is {data.get('version')!r}; this llama-chat reads version {EXPORT_VERSION}",
        )
    raw_session = field_of(data, "session", Mapping, "")
    session = {
        "title": field_of(raw_session, "title", str, "session"),
        "created_at": timestamp(raw_session, "created_at", "session"),
        "updated_at": timestamp(raw_session, "updated_at", "session"),
        "system_prompt": field_of(raw_session, "system_prompt", str, "session"),
        "settings": dict(field_of(raw_session, "settings", Mapping, "session")),
        "model": field_of(raw_session, "model", str, "session"),
        "quant": field_of(raw_session, "quant", str, "session"),
        "template_date": field_of(raw_session, "template_date", str, "session", optional=True),
    }
    messages: list[dict[str, Any]] = []
    seen: set[int] = set()
    for index, raw in enumerate(field_of(data, "messages", list, "")):
        where = f"messages[{index}]"
        if not isinstance(raw, Mapping):
            raise fail(where, "is not an object")
        local_id = field_of(raw, "id", int, where)
        parent = field_of(raw, "parent", int, where, optional=True)
        if local_id in seen:
            raise fail(f"{where}.id", f"repeats id {local_id}")
        if parent is not None and parent not in seen:
            raise fail(f"{where}.parent", f"refers to {parent}, which is not an earlier message")
        role = field_of(raw, "role", str, where)
        if role not in ROLES:
            raise fail(f"{where}.role", f"is {role!r}; expected one of {', '.join(ROLES)}")
        status = field_of(raw, "status", str, where)
        if status not in frozenset(MessageStatus):
            allowed = ", ".join(MessageStatus)
            raise fail(f"{where}.status", f"is {status!r}; expected one of {allowed}")
        tool_calls = field_of(raw, "tool_calls", list, where, optional=True)
        seen.add(local_id)
        messages.append(
            {
                "id": local_id,
                "parent": parent,
                "role": role,
                "content": field_of(raw, "content", str, where),
                "tool_calls": tool_calls,
                # An answer still streaming when exported was cut off as far as we can tell.
                "status": MessageStatus.INTERRUPTED
                if status == MessageStatus.STREAMING
                else status,
                "created_at": timestamp(raw, "created_at", where),
                "selected": raw.get("selected") is True,
            }
        )
    return session, messages


def _validate_documents(data: Mapping[str, Any], message_count: int) -> list[dict[str, Any]]:
    """The exported documents (none in an export written before there were any), each checked
    before anything is written: one bad document refuses the whole chat."""
    raw = _listed(data, "documents")
    kinds = {
        "message": int,
        "name": str,
        "size_bytes": int,
        "tokens": int,
        "text": str,
        "summary": (str, type(None)),
        "created_at": str,
    }
    documents: list[dict[str, Any]] = []
    carried: set[int] = set()
    for index, item in enumerate(raw):
        where = f"documents[{index}]"
        item = _checked(item, where, kinds)
        if not 1 <= item["message"] <= message_count:
            raise SessionImportError(
                f"Cannot import chat: {where}.message refers to {item['message']}, no message."
            )
        if item["message"] in carried:
            raise SessionImportError(
                f"Cannot import chat: {where}.message {item['message']} already carries a "
                "document (one per message)."
            )
        carried.add(item["message"])
        for key in ("size_bytes", "tokens"):
            if not 0 <= item[key] <= MAX_STORED_INT:
                raise SessionImportError(
                    f"Cannot import chat: {where}.{key} is {_short(item[key])}, out of range."
                )
        document = {key: item[key] for key in kinds}
        document["created_at"] = parse_time(item["created_at"], f"{where}.created_at")
        documents.append(document)
    return documents


def _validate_notes(data: Mapping[str, Any], message_count: int) -> list[dict[str, Any]]:
    """The exported rolling-memory notes (none in an export written before they were kept),
    each checked before anything is written, like the documents."""
    raw = _listed(data, "memory_notes")
    notes: list[dict[str, Any]] = []
    seen: set[int] = set()
    for index, item in enumerate(raw):
        where = f"memory_notes[{index}]"
        item = _checked(item, where, {"message": int, "note": str, "updated_at": str})
        if not 1 <= item["message"] <= message_count or item["message"] in seen:
            raise SessionImportError(
                f"Cannot import chat: {where}.message refers to {_short(item['message'])}: no "
                "message, or one that already has a note."
            )
        seen.add(item["message"])
        updated_at = parse_time(item["updated_at"], f"{where}.updated_at")
        notes.append({"message": item["message"], "note": item["note"], "updated_at": updated_at})
    return notes


def _listed(data: Mapping[str, Any], name: str) -> list[Any]:
    """The list ``data`` holds under ``name`` (empty when absent: an older export)."""
    raw = data.get(name, [])
    if not isinstance(raw, list):
        raise SessionImportError(f"Cannot import chat: {name} is not a list.")
    return raw


def _checked(
    item: object, where: str, kinds: Mapping[str, type | tuple[type, ...]]
) -> Mapping[str, Any]:
    """``item``, if it is an object whose fields have these kinds (a bool is not a number)."""
    if not isinstance(item, Mapping):
        raise SessionImportError(f"Cannot import chat: {where} is not an object.")
    for key, kind in kinds.items():
        value = item.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise SessionImportError(f"Cannot import chat: {where}.{key} is missing or wrong.")
    return item


def _check_unicode(*parts: object) -> None:
    """Refuse text SQLite cannot store: JSON may spell a lone surrogate ("\\ud800")."""
    try:
        json.dumps(parts, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise SessionImportError(
            "Cannot import chat: the file holds text that is not valid Unicode (a lone "
            "surrogate such as \\ud800)."
        ) from None


def parse_time(text: str, where: str) -> str:
    """An ISO-8601 time as the store writes it (UTC, microseconds); naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    except (ValueError, OverflowError):
        # OverflowError: 0001-01-01T00:00:00+01:00 is before the year 1 in UTC.
        raise SessionImportError(
            f"Cannot import chat: {where} is not an ISO-8601 time between the years 1 and 9999 "
            f"({_short(text)})."
        ) from None


def _short(value: object) -> str:
    """A value for a one-line message: long ones cut (a 5,000-digit number is not printed)."""
    text = repr(value) if isinstance(value, str) else f"a {len(str(value))}-digit number"
    if isinstance(value, int) and len(str(value)) <= 20:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
