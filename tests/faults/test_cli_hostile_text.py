"""What the CLI prints never carries terminal escapes, and crafted import files are refused in
one line.

A title like ``ESC ] 52 ; c ; ... BEL ESC [2J`` set the clipboard and cleared the screen when
``import`` or ``export`` printed it. And a JSON file nested 200,000 deep, a 5,000-digit number,
a lone surrogate or a date before the year 1 gave a traceback instead of a line.
"""

from __future__ import annotations

import json

import pytest

from llama_chat.cli import main
from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore
from llama_chat.terminal_text import for_terminal

ESCAPES = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\r\x00"
TITLE = f"Trip{ESCAPES} plans"


@pytest.fixture
def home(tmp_path, monkeypatch) -> AppPaths:
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    return AppPaths.from_env().ensure()


def seed(paths: AppPaths) -> None:
    with SessionStore.open(paths.sessions_db) as store:
        info = store.create_session(title=TITLE, system_prompt="", settings={}, model="m",
                                    quant="4bit")  # fmt: skip
        parent = store.add_message(info.id, "user", f"Hi{ESCAPES}\tthere\nfriend").id
        store.add_message(info.id, "assistant", f"Answer{ESCAPES}", parent_id=parent)


def assert_no_controls(text: str) -> None:
    assert text == for_terminal(text)
    assert not any(ch in text for ch in "\x1b\x07\x9b\r\x00"), repr(text)


def test_for_terminal_keeps_newlines_and_tabs_only():
    assert for_terminal("a\tb\nc" + ESCAPES + "\x7f\x85d") == "a\tb\nc]52;c;ZXZpbA==[2J31md"


def test_markdown_export_to_stdout_has_no_escapes(home, capsys):
    seed(home)
    assert main(["export"]) == 0
    out = capsys.readouterr().out
    assert_no_controls(out)
    assert "Hi]52;c;ZXZpbA==[2J31m\tthere\nfriend" in out


def test_json_export_to_stdout_escapes_controls_and_keeps_the_data(home, capsys):
    seed(home)
    assert main(["export", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert_no_controls(out)
    assert json.loads(out)["session"]["title"] == TITLE


def test_export_and_import_messages_have_no_escapes(home, tmp_path, capsys):
    seed(home)
    target = tmp_path / "chat.json"
    assert main(["export", "-o", str(target)]) == 0
    assert json.loads(target.read_text())["session"]["title"] == TITLE  # the file is exact
    assert main(["import", str(target)]) == 0
    captured = capsys.readouterr()
    assert_no_controls(captured.err + captured.out)
    assert "Trip]52;c;ZXZpbA==[2J31m plans" in captured.out


def test_an_error_naming_a_crafted_title_has_no_escapes(home, capsys):
    assert main(["export", f"x{ESCAPES}"]) == 1
    assert_no_controls(capsys.readouterr().err)


CRAFTED = {
    "deep": "[" * 200_000,
    "huge-number": '{"format": "llama-chat-session", "version": ' + "9" * 5000 + "}",
    "not-utf8": b"\xff\xfe{}",
}


def export_with(**session_changes) -> dict:
    return {
        "format": "llama-chat-session",
        "version": 1,
        "session": {
            "title": "t", "created_at": "2025-01-01T00:00:00", "updated_at": "2025-01-01T00:00:00",
            "system_prompt": "", "settings": {}, "model": "m", "quant": "4bit",
            "template_date": None, **session_changes,
        },
        "messages": [],
    }  # fmt: skip


CRAFTED_EXPORTS = {
    "lone-surrogate": json.dumps(export_with(title="\ud800")),
    "date-before-year-1": json.dumps(export_with(created_at="0001-01-01T00:00:00+01:00")),
    "date-after-9999": json.dumps(export_with(updated_at="9999-12-31T23:59:59-01:00")),
    "huge-id": json.dumps(
        {
            **export_with(),
            "messages": [
                {
                    "id": 2**64,
                    "parent": None,
                    "role": "user",
                    "content": "x",
                    "tool_calls": None,
                    "status": "complete",
                    "created_at": "2025-01-01T00:00:00",
                }
            ],
        }  # fmt: skip
    ),
}


@pytest.mark.parametrize("content", [*CRAFTED.values(), *CRAFTED_EXPORTS.values()],
                         ids=[*CRAFTED, *CRAFTED_EXPORTS])  # fmt: skip
def test_a_crafted_import_file_is_one_line_and_imports_nothing(home, tmp_path, capsys, content):
    crafted = tmp_path / "crafted.json"
    if isinstance(content, bytes):
        crafted.write_bytes(content)
    else:
        crafted.write_text(content, encoding="utf-8")
    status = main(["import", str(crafted)])
    err = capsys.readouterr().err
    if status == 0:  # a huge local id is only a label: it may import, but must import right
        with SessionStore.open(home.sessions_db) as store:
            (info,) = store.list_sessions()
            assert [m.content for m in store.messages(info.id)] == ["x"]
        return
    assert status == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and len(err) < 400, err
    with SessionStore.open(home.sessions_db) as store:
        assert store.count_sessions() == 0
