"""Saved chats in one SQLite database (``sessions.db`` in the data dir).

The database is opened, checked and migrated in exactly one place, :meth:`SessionStore.open`:
WAL journal (readers never wait for the writer; a killed process loses at most the transaction
in flight), foreign keys on, a busy timeout. Every public write is one transaction, committed
before the method returns.

Messages form a tree through ``parent_id``: editing a question or regenerating an answer adds a
sibling under the same parent, and the conversation shown is the *active path*, which follows
the most recent child at each step. Old branches stay in the database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llama_chat.store.migrations import MESSAGE_STATUSES, check_not_newer, migrate
from llama_chat.paths import move_aside

ROLES: tuple[str, ...] = ("system", "user", "assistant", "ipython", "tool")
"""Message roles of Llama 3.2's chat format ("tool" is accepted as another name for ipython)."""

EXPORT_FORMAT = "llama-chat-session"
EXPORT_VERSION = 1
BUSY_TIMEOUT_MS = 5000


class SessionStoreError(RuntimeError):
    """The session database cannot be used; the message says why and what to do."""


class NotFoundError(LookupError):
    """No session or message with that id."""


class SessionImportError(ValueError):
    """An exported session file that cannot be imported; names the offending field."""


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
    status: str
    created_at: datetime
    seq: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _is_corruption(exc: BaseException) -> bool:
    # NOTADB: not an SQLite file at all; CORRUPT: "database disk image is malformed".
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT"))


class _CorruptDatabase(Exception):
    pass


_SQLITE_HEADER = b"SQLite format 3\x00"


def _has_sqlite_header(path: Path) -> bool:
    """True for an SQLite file, and for a missing or empty one (SQLite starts those fresh)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
    except OSError:
        return True  # missing, or unreadable: then SQLite's own error says which
    return head == b"" or head == _SQLITE_HEADER


def _fts_query(text: str) -> str | None:
    """User text -> an FTS5 query that cannot be a syntax error.

    Every whitespace-separated term becomes a quoted string (quotes doubled), so AND/OR/NEAR,
    parentheses, colons and stray quotes are plain text; each is a prefix match so results appear
    while typing. Terms with no letters or digits would be empty phrases and are dropped.
    Unassigned and private-use characters count as control here too (category C*).
    """
    # Control characters (NUL above all: it ends the string inside SQLite) become spaces.
    cleaned = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    terms = [t for t in cleaned.split() if any(ch.isalnum() for ch in t)]
    if not terms:
        return None
    return " ".join('"' + t.replace('"', '""') + '"*' for t in terms)


class SessionStore:
    """All reads and writes of saved chats. Safe to share between the UI and a worker thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path, recovered_from: Path | None) -> None:
        # Use SessionStore.open(); this only wires up an already opened and migrated connection.
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self.recovered_from = recovered_from
        """Where an unreadable database was moved before a fresh one was started, else None."""

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> SessionStore:
        """Open (creating if needed), check and migrate the database, and mark cut-off answers.

        A file that is not a database, or is damaged, is moved aside to
        ``sessions.db.corrupt-<timestamp>`` (with its -wal/-shm) and a fresh one is started; see
        ``recovered_from``. A database from a newer llama-chat raises NewerSchemaError untouched.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SessionStoreError(
                f"Cannot create the folder for saved chats, {path.parent} ({exc.strerror})."
            ) from exc
        recovered_from = None
        try:
            if not _has_sqlite_header(path):
                # Checked before SQLite opens it: closing a connection to a non-database
                # deletes its -wal/-shm, which we want to keep with the moved file.
                raise _CorruptDatabase(path)
            conn = cls._connect(path)
        except (sqlite3.DatabaseError, _CorruptDatabase) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not _is_corruption(exc):
                raise SessionStoreError(
                    f"Cannot open the saved chats database {path}: {exc}. Check that the folder "
                    "is writable and that no other program holds the file."
                ) from exc
            recovered_from = move_aside(path, "corrupt", companions=("-wal", "-shm", "-journal"))
            conn = cls._connect(path)
        store = cls(conn, path, recovered_from)
        try:
            store.mark_interrupted()
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) below.
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # The first read: raises SQLITE_NOTADB for a file that is not a database.
            check_not_newer(conn, path)
            if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                raise _CorruptDatabase(path)
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL survives a crashed process; only power loss may drop the
            # last commits, never corrupt the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, path)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT (e.g. busy), so the next BEGIN starts clean.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def mark_interrupted(self) -> int:
        """Mark answers left 'streaming' by a crash as 'interrupted'; returns how many."""
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'"
            ).rowcount

    # -- sessions -----------------------------------------------------------------------------

    def create_session(
        self,
        *,
        title: str = "New chat",
        system_prompt: str,
        settings: Mapping[str, Any],
        model: str,
        quant: str,
        template_date: str | None = None,
    ) -> SessionInfo:
        now = _now()
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (title, created_at, updated_at, system_prompt, settings_json,"
                " model, quant, template_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    title,
                    now,
                    now,
                    system_prompt,
                    json.dumps(dict(settings)),
                    model,
                    quant,
                    template_date,
                ),
            )
            session_id = cursor.lastrowid
        return self.get_session(session_id)

    def get_session(self, session_id: int) -> SessionInfo:
        rows = self._query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise NotFoundError(f"No saved chat with id {session_id}.")
        return _session_from_row(rows[0])

    def list_sessions(self, limit: int = 50, offset: int = 0) -> list[SessionInfo]:
        """Most recently updated first."""
        rows = self._query(
            "SELECT * FROM sessions ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_session_from_row(row) for row in rows]

    def rename_session(self, session_id: int, title: str) -> SessionInfo:
        with self._transaction() as conn:
            self._require_session(conn, session_id)
            conn.execute(
                "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
                (title, _now(), session_id),
            )
        return self.get_session(session_id)

    def set_session_settings(
        self, session_id: int, settings: Mapping[str, Any], *, system_prompt: str | None = None
    ) -> SessionInfo:
        """Replace the chat's saved sampling settings (and its system prompt, if given)."""
        with self._transaction() as conn:
            self._require_session(conn, session_id)
            conn.execute(
                "UPDATE sessions SET settings_json = ?,"
                " system_prompt = COALESCE(?, system_prompt), updated_at = ? WHERE id = ?",
                (json.dumps(dict(settings)), system_prompt, _now(), session_id),
            )
        return self.get_session(session_id)

    def delete_session(self, session_id: int) -> list[int]:
        """Delete a chat and all its messages; returns the ids of the chats actually deleted
        (``[session_id]``, or ``[]`` if there was none) so the caller can drop their cache files."""
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            return [session_id] if cursor.rowcount else []

    @staticmethod
    def _require_session(conn: sqlite3.Connection, session_id: int) -> None:
        if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
            raise NotFoundError(f"No saved chat with id {session_id}.")

    # -- messages -----------------------------------------------------------------------------

    def add_message(
        self,
        session_id: int,
        role: str,
        content: str,
        *,
        parent_id: int | None = None,
        status: str = "complete",
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """Append a message under ``parent_id`` (None: a root, i.e. the first message).

        Committed before returning. A second child of the same parent is a new branch (an edit
        or a regeneration) and becomes the active one.
        """
        _check_role(role)
        _check_status(status)
        now = _now()
        with self._transaction() as conn:
            self._require_session(conn, session_id)
            if parent_id is not None:
                row = conn.execute(
                    "SELECT session_id FROM messages WHERE id = ?", (parent_id,)
                ).fetchone()
                if row is None or row[0] != session_id:
                    raise NotFoundError(f"No message {parent_id} in chat {session_id}.")
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?",
                (session_id,),
            ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO messages (session_id, parent_id, role, content, tool_calls_json,"
                " status, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    parent_id,
                    role,
                    content,
                    _dump_tool_calls(tool_calls),
                    status,
                    now,
                    seq,
                ),
            )
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
            message_id = cursor.lastrowid
        return self.get_message(message_id)

    def update_message(
        self,
        message_id: int,
        content: str,
        status: str,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """Replace a message's text and status in one transaction (streaming progress and the
        final state). ``tool_calls`` replaces the stored calls when given; None keeps them."""
        _check_status(status)
        now = _now()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT session_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"No message with id {message_id}.")
            conn.execute(
                "UPDATE messages SET content = ?, status = ?,"
                " tool_calls_json = COALESCE(?, tool_calls_json) WHERE id = ?",
                (content, status, _dump_tool_calls(tool_calls), message_id),
            )
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, row[0]))
        return self.get_message(message_id)

    def get_message(self, message_id: int) -> StoredMessage:
        rows = self._query("SELECT * FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise NotFoundError(f"No message with id {message_id}.")
        return _message_from_row(rows[0])

    def messages(self, session_id: int) -> list[StoredMessage]:
        """Every message of a chat, all branches, in the order they were written."""
        rows = self._query(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
        )
        return [_message_from_row(row) for row in rows]

    def active_path(self, session_id: int) -> list[StoredMessage]:
        """The current branch, root first: from the latest root, follow the latest child."""
        latest_child: dict[int | None, StoredMessage] = {}
        for message in self.messages(session_id):  # seq order, so later siblings overwrite
            latest_child[message.parent_id] = message
        path: list[StoredMessage] = []
        node = latest_child.get(None)
        while node is not None:
            path.append(node)
            node = latest_child.get(node.id)
        return path

    def siblings(self, message_id: int) -> list[StoredMessage]:
        """The message and its alternatives (same parent), oldest first."""
        message = self.get_message(message_id)
        rows = self._query(
            "SELECT * FROM messages WHERE session_id = ? AND parent_id IS ? ORDER BY seq",
            (message.session_id, message.parent_id),
        )
        return [_message_from_row(row) for row in rows]

    # -- search -------------------------------------------------------------------------------

    def search(
        self, query: str, *, limit: int = 50, highlight: tuple[str, str] = ("**", "**")
    ) -> list[tuple[SessionInfo, str]]:
        """Chats whose title or messages match every word of ``query`` (prefix matching).

        Returns ``(session, snippet)`` pairs, best match first, one per chat; matched words in
        the snippet are wrapped in ``highlight``. Any user text is safe: it is never parsed as
        FTS5 syntax.
        """
        match = _fts_query(query)
        if match is None:
            return []
        start, end = highlight
        rows = self._query(
            """
            SELECT hits.session_id, hits.snippet FROM (
                SELECT rowid AS session_id, highlight(sessions_fts, 0, ?, ?) AS snippet,
                       bm25(sessions_fts) AS rank
                FROM sessions_fts WHERE sessions_fts MATCH ?
                UNION ALL
                SELECT m.session_id, snippet(messages_fts, 0, ?, ?, '…', 12),
                       bm25(messages_fts)
                FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid
                WHERE messages_fts MATCH ?
            ) AS hits
            ORDER BY hits.rank
            """,
            (start, end, match, start, end, match),
        )
        best: dict[int, str] = {}
        for row in rows:
            best.setdefault(row["session_id"], row["snippet"])
            if len(best) >= limit:
                break
        if not best:
            return []
        placeholders = ", ".join("?" * len(best))
        session_rows = self._query(
            f"SELECT * FROM sessions WHERE id IN ({placeholders})", list(best)
        )
        sessions = {row["id"]: _session_from_row(row) for row in session_rows}
        return [(sessions[sid], snippet) for sid, snippet in best.items() if sid in sessions]

    # -- export / import ----------------------------------------------------------------------

    def export_json(self, session_id: int) -> dict[str, Any]:
        """The whole chat, all branches, as plain JSON data without database ids.

        Messages are listed in the order written and numbered from 1; ``parent`` refers to that
        number. So exporting an imported export gives back the same data.
        """
        session = self.get_session(session_id)
        messages = self.messages(session_id)
        local_id = {m.id: number for number, m in enumerate(messages, start=1)}
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
                }
                for m in messages
            ],
        }

    def import_json(self, data: Mapping[str, Any]) -> SessionInfo:
        """Add a chat from ``export_json`` data as a new session (new ids), in one transaction.

        Raises SessionImportError naming the first bad field; nothing is written then.
        """
        session, messages = _validate_export(data)
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (title, created_at, updated_at, system_prompt, settings_json,"
                " model, quant, template_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session["title"],
                    session["created_at"],
                    session["updated_at"],
                    session["system_prompt"],
                    json.dumps(session["settings"]),
                    session["model"],
                    session["quant"],
                    session["template_date"],
                ),
            )
            session_id = cursor.lastrowid
            db_id: dict[int, int] = {}
            for seq, message in enumerate(messages, start=1):
                parent = message["parent"]
                cursor = conn.execute(
                    "INSERT INTO messages (session_id, parent_id, role, content, tool_calls_json,"
                    " status, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session_id,
                        None if parent is None else db_id[parent],
                        message["role"],
                        message["content"],
                        _dump_tool_calls(message["tool_calls"]),
                        message["status"],
                        message["created_at"],
                        seq,
                    ),
                )
                db_id[message["id"]] = cursor.lastrowid
        return self.get_session(session_id)

    def export_markdown(self, session_id: int) -> str:
        """The active branch as a readable Markdown document."""
        session = self.get_session(session_id)
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
        for message in self.active_path(session_id):
            if message.role in ("ipython", "tool"):
                lines += ["## Tool result", "", _fenced(message.content, ""), ""]
            else:
                lines += [f"## {headings[message.role]}", ""]
                if message.content:
                    lines += [message.content, ""]
            if message.tool_calls:
                body = json.dumps(message.tool_calls, indent=2, ensure_ascii=False)
                lines += ["Tool call:", "", _fenced(body, "json"), ""]
            if message.status != "complete":
                lines += [f"*({message.status})*", ""]
        return "\n".join(lines).rstrip("\n") + "\n"


# -- row conversion and validation -------------------------------------------------------------


def _session_from_row(row: sqlite3.Row) -> SessionInfo:
    return SessionInfo(
        id=row["id"],
        title=row["title"],
        created_at=_parse_time(row["created_at"]),
        updated_at=_parse_time(row["updated_at"]),
        system_prompt=row["system_prompt"],
        settings=json.loads(row["settings_json"]),
        model=row["model"],
        quant=row["quant"],
        template_date=row["template_date"],
    )


def _message_from_row(row: sqlite3.Row) -> StoredMessage:
    tool_calls = row["tool_calls_json"]
    return StoredMessage(
        id=row["id"],
        session_id=row["session_id"],
        parent_id=row["parent_id"],
        role=row["role"],
        content=row["content"],
        tool_calls=None if tool_calls is None else json.loads(tool_calls),
        status=row["status"],
        created_at=_parse_time(row["created_at"]),
        seq=row["seq"],
    )


def _dump_tool_calls(tool_calls: list[dict[str, Any]] | None) -> str | None:
    return None if tool_calls is None else json.dumps(tool_calls, ensure_ascii=False)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown message role {role!r}; use one of {', '.join(ROLES)}.")


def _check_status(status: str) -> None:
    if status not in MESSAGE_STATUSES:
        raise ValueError(
            f"Unknown message status {status!r}; use one of {', '.join(MESSAGE_STATUSES)}."
        )


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
        text = field_of(obj, key, str, where)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise fail(f"{where}.{key}", f"is not an ISO-8601 time ({text!r})") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")

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
        if status not in MESSAGE_STATUSES:
            raise fail(f"{where}.status", f"is {status!r}")
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
                "status": "interrupted" if status == "streaming" else status,
                "created_at": timestamp(raw, "created_at", where),
            }
        )
    return session, messages
