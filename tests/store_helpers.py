"""Shared by the session-store tests: a fresh database, a chat, raw SQL access, old schemas."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from llama_chat.store.sessions import (
    SessionStore,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def new_session(store: SessionStore, title: str = "Chat", **overrides):
    fields = {
        "title": title,
        "system_prompt": "Be brief.",
        "settings": {"temperature": 0.6, "top_p": 0.9},
        "model": "mlx-community/Llama-3.2-3B-Instruct-4bit",
        "quant": "4bit",
        "template_date": "26 Jul 2024",
    }
    fields.update(overrides)
    return store.create_session(**fields)


def raw_connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_v1_database(path: Path) -> None:
    """Schema version 1 written by hand, as the first release's migration created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = raw_connect(path)
    conn.executescript(
        """
        CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
        INSERT INTO _migrations VALUES ('m001_sessions_and_messages', '2025-01-01T00:00:00+00:00');
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, system_prompt TEXT NOT NULL DEFAULT '',
            settings_json TEXT NOT NULL DEFAULT '{}', model TEXT NOT NULL, quant TEXT NOT NULL,
            template_date TEXT);
        CREATE INDEX sessions_by_updated ON sessions (updated_at DESC, id DESC);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
            role TEXT NOT NULL, content TEXT NOT NULL, tool_calls_json TEXT,
            status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN
                ('complete', 'streaming', 'stopped', 'error', 'interrupted')),
            created_at TEXT NOT NULL, seq INTEGER NOT NULL, UNIQUE (session_id, seq));
        CREATE INDEX messages_by_parent ON messages (parent_id);
        CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming';
        INSERT INTO sessions VALUES (7, 'Old chat about walruses',
            '2025-01-01T10:00:00.000000+00:00', '2025-01-01T10:05:00.000000+00:00', 'sys',
            '{"temperature": 0.5}', 'm', '8bit', NULL);
        INSERT INTO messages VALUES (1, 7, NULL, 'user', 'Do walruses swim?', NULL, 'complete',
            '2025-01-01T10:00:01.000000+00:00', 1);
        INSERT INTO messages VALUES (2, 7, 1, 'assistant', 'Yes, very well.', NULL, 'streaming',
            '2025-01-01T10:00:02.000000+00:00', 2);
        PRAGMA user_version = 1;
        """
    )
    conn.close()
