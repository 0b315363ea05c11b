"""Rows damaged in ways ``quick_check`` does not see are read as far as possible, and the damage
is named (which chat, which message, which field) instead of crashing every reader."""

from __future__ import annotations

import pytest

from llama_chat.cli import main
from llama_chat.paths import AppPaths
from llama_chat.status import MessageStatus
from llama_chat.store.export import export_json, export_markdown
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from tests.store_helpers import new_session, raw_connect
from tests.tui_pilot import SIZE, make_app, wait_for, widgets

DAMAGE = [
    "UPDATE sessions SET settings_json = '{{{'",
    "UPDATE messages SET tool_calls_json = '[1,' WHERE content = 'calls'",
    "UPDATE messages SET created_at = 'x' WHERE content = 'when'",
    "UPDATE messages SET role = 'alien' WHERE content = 'who'",
    "UPDATE messages SET content = X'ff00fe' WHERE content = 'blob'",
]


def damaged_chat(path) -> int:
    with SessionStore.open(path) as store:
        info = new_session(store, "Damaged")
        parent = None
        for role, content in [("user", "when"), ("assistant", "calls"), ("user", "who"),
                              ("assistant", "blob"), ("user", "last question")]:  # fmt: skip
            parent = store.add_message(info.id, role, content, parent_id=parent).id
    conn = raw_connect(path)
    for statement in DAMAGE:
        conn.execute(statement)
    assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    conn.close()
    return info.id


def test_every_reader_reads_a_damaged_chat_and_names_the_damage(db_path):
    session_id = damaged_chat(db_path)
    with SessionStore.open(db_path) as store:
        (session,) = store.list_sessions()
        assert session.settings == {} and "settings_json" in session.damage[0]
        messages = store.messages(session_id)
        assert [m.content for m in messages][:3] == ["when", "calls", "who"]
        assert "created_at 'x'" in messages[0].damage[0]
        assert messages[1].tool_calls is None and "tool_calls_json" in messages[1].damage[0]
        assert messages[2].role == "system" and "alien" in messages[2].damage[0]
        assert messages[3].content == "\ufffd\x00\ufffd" and "bytes" in messages[3].damage[0]
        assert [m.content for m in store.active_path(session_id)][-1] == "last question"
        assert export_json(store, session_id)["messages"][0]["content"] == "when"
        assert "last question" in export_markdown(store, session_id)


def test_export_of_a_damaged_chat_says_which_chat_and_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    paths = AppPaths.from_env().ensure()
    session_id = damaged_chat(paths.sessions_db)
    assert main(["export", "-o", str(tmp_path / "out.md")]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"chat {session_id}: settings_json" in err
    assert f"chat {session_id}, message 3: unknown role 'alien'" in err


@pytest.mark.anyio
async def test_the_app_opens_a_damaged_chat_and_says_so(paths):
    session_id = damaged_chat(paths.sessions_db)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widgets(app, UserMessage), "the chat")
        await wait_for(pilot, lambda: app.notices, "the warning")
        assert [w.text for w in widgets(app, UserMessage)] == ["when", "last question"]
        assert [w.status for w in widgets(app, AssistantMessage)] == [MessageStatus.COMPLETE] * 2
        (warning,) = [text for text, severity in app.notices if severity == "warning"]
        assert warning.startswith(f"Chat {session_id} has 4 damaged message(s)")
