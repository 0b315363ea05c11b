"""A damaged database is moved aside, and what can still be read of it is copied into the new
one; an SQLite file of another program is moved aside too, never given our tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llama_chat.cli import main
from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import file_digest, new_session

MARKER = "Q7Z-TWO-"


def three_chats(path: Path) -> None:
    with SessionStore.open(path) as store:
        for title, body in [("One", "one "), ("Two", MARKER), ("Three", "three ")]:
            info = new_session(store, title)
            parent = None
            for n in range(4):
                role = "user" if n % 2 == 0 else "assistant"
                text = f"{title} {n} " + body * (2500 // len(body))  # about a page each
                parent = store.add_message(info.id, role, text, parent_id=parent).id
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def damage_page_holding(path: Path, marker: str) -> None:
    """Overwrite the one database page where ``marker`` is first found with garbage."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    page = data.index(marker.encode()) // page_size
    data[page * page_size : (page + 1) * page_size] = b"\xa5" * page_size
    path.write_bytes(bytes(data))


def test_the_readable_chats_of_a_damaged_database_are_kept(db_path):
    three_chats(db_path)
    damage_page_holding(db_path, MARKER)
    with SessionStore.open(db_path) as store:
        assert store.recovered_from is not None and store.recovered_from.exists()
        titles = {s.title: s for s in store.list_sessions()}
        assert {"One", "Three"} <= set(titles)
        for title in ("One", "Three"):
            path = store.active_path(titles[title].id)
            assert [m.content.split(" ")[:2] for m in path] == [[title, str(n)] for n in range(4)]
        assert store.search("three")  # the copied chats are found by search again
        # New chats get new ids: none reuses a salvaged chat's id (its KV-cache file).
        new = new_session(store, "After")
        assert new.id > max(s.id for s in titles.values())


def test_a_foreign_sqlite_file_is_moved_aside_untouched(db_path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE cookies (host TEXT, value TEXT)")
    conn.execute("INSERT INTO cookies VALUES ('example.org', 'x')")
    conn.commit()
    conn.close()
    before = file_digest(db_path)
    with SessionStore.open(db_path) as store:
        assert store.recovered_from is not None and ".foreign-" in store.recovered_from.name
        assert store.count_sessions() == 0
    assert file_digest(store.recovered_from) == before
    moved = sqlite3.connect(store.recovered_from)
    tables = [row[0] for row in moved.execute("SELECT name FROM sqlite_master")]
    moved.close()
    assert tables == ["cookies"]


def test_the_cli_says_where_a_damaged_database_went(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    paths = AppPaths.from_env().ensure()
    three_chats(paths.sessions_db)
    damage_page_holding(paths.sessions_db, MARKER)
    assert main(["export", "One", "-o", str(tmp_path / "one.md")]) == 0
    err = capsys.readouterr().err
    assert "is damaged; it was moved to" in err and ".corrupt-" in err and "Traceback" not in err
    assert (tmp_path / "one.md").read_text().startswith("# One")
