"""``llama-chat export`` and ``llama-chat import`` on a real sessions database."""

from __future__ import annotations

import io
import json

import pytest

from llama_chat.cli import main
from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore


@pytest.fixture
def home(tmp_path, monkeypatch) -> AppPaths:
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    return AppPaths.from_env().ensure()


def seed(paths: AppPaths, title: str, turns: int) -> int:
    with SessionStore.open(paths.sessions_db) as store:
        info = store.create_session(
            title=title, system_prompt="", settings={}, model="m", quant="4bit"
        )
        parent = None
        for n in range(turns):
            role = "user" if n % 2 == 0 else "assistant"
            parent = store.add_message(info.id, role, f"{role} {n}", parent_id=parent).id
        return info.id


def test_export_defaults_to_the_newest_chat_as_markdown_on_stdout(home, capsys):
    seed(home, "Trip to Lisbon", 2)
    seed(home, "Sourdough", 2)
    assert main(["export"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Sourdough") and "user 0" in out


def test_export_by_title_to_json_then_import_restores_it(home, tmp_path, capsys):
    lisbon = seed(home, "Trip to Lisbon", 4)
    seed(home, "Sourdough", 2)
    target = tmp_path / "trip.json"
    assert main(["export", "LISBON", "-o", str(target)]) == 0  # format from the suffix
    data = json.loads(target.read_text())
    assert data["session"]["title"] == "Trip to Lisbon" and len(data["messages"]) == 4
    assert main(["export", str(lisbon), "--format", "md", "-o", str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text().startswith("# Trip to Lisbon")

    assert main(["import", str(target)]) == 0
    assert "4 messages" in capsys.readouterr().out
    with SessionStore.open(home.sessions_db) as store:
        newest = max(store.list_sessions(limit=-1), key=lambda s: s.id)
        assert newest.title == "Trip to Lisbon" and newest.id != lisbon
        assert [m.content for m in store.active_path(newest.id)] == [
            m.content for m in store.active_path(lisbon)
        ]


def test_a_thousand_message_chat_imports_whole(home, tmp_path):
    source = seed(home, "Long", 1000)
    target = tmp_path / "long.json"
    assert main(["export", str(source), "--format", "json", "-o", str(target)]) == 0
    assert main(["import", str(target)]) == 0
    with SessionStore.open(home.sessions_db) as store:
        imported = max(s.id for s in store.list_sessions(limit=-1))
        assert len(store.active_path(imported)) == 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export"], "there are no saved chats to export"),
        (["export", "nothing like it"], "no saved chat has the id or a title with"),
        (["import", "missing.json"], "cannot read missing.json"),
    ],
)
def test_mistakes_are_one_line(home, capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_broken_export_file_imports_nothing(home, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "llama-chat-session", "version": 1, "session": {}}))
    assert main(["import", str(bad)]) == 1
    assert str(bad) in capsys.readouterr().err
    with SessionStore.open(home.sessions_db) as store:
        assert store.count_sessions() == 0


def test_the_chat_flags_still_work_with_a_prompt_that_says_export(
    home, tiny_4bit, capsys, monkeypatch
):
    # Only a first word picks a subcommand: "-p export" is a prompt to answer.
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))  # empty, not a tty
    assert main(["--model", str(tiny_4bit), "--max-tokens", "3", "-p", "export"]) == 0
    assert capsys.readouterr().out.strip() != ""
