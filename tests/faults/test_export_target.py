"""``llama-chat export -o PATH`` writes a file and nothing else: it keeps an existing file's
permissions (a new one is 0600), and refuses a symbolic link, a FIFO or device, and a folder
that does not exist, each in one line, leaving the path as it was."""

from __future__ import annotations

import os
import stat

import pytest

from llama_chat.cli import main
from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore


@pytest.fixture
def home(tmp_path, monkeypatch) -> AppPaths:
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    paths = AppPaths.from_env().ensure()
    with SessionStore.open(paths.sessions_db) as store:
        info = store.create_session(title="Notes", system_prompt="", settings={}, model="m",
                                    quant="4bit")  # fmt: skip
        store.add_message(info.id, "user", "private words")
    return paths


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_an_existing_private_file_stays_private(home, tmp_path, capsys):
    target = tmp_path / "notes.md"
    target.write_text("old")
    target.chmod(0o600)
    assert main(["export", "-o", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "private words" in target.read_text()


def test_an_existing_file_keeps_its_own_mode(home, tmp_path):
    target = tmp_path / "shared.md"
    target.write_text("old")
    target.chmod(0o640)
    assert main(["export", "-o", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_file_is_readable_by_its_owner_only(home, tmp_path):
    target = tmp_path / "new.json"
    old_umask = os.umask(0o022)
    try:
        assert main(["export", "-o", str(target)]) == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symbolic_link_is_refused_and_left_alone(home, tmp_path, capsys):
    real = tmp_path / "real.md"
    real.write_text("keep me")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert main(["export", "-o", str(link)]) == 1
    assert "symbolic link" in one_line(capsys)
    assert link.is_symlink() and real.read_text() == "keep me"


def test_a_fifo_is_refused_and_not_replaced(home, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["export", "-o", str(fifo)]) == 1
    assert "not a regular file" in one_line(capsys)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_folder_is_refused(home, tmp_path, capsys):
    # A device node is refused the same way (not a regular file); no test writes near /dev.
    folder = tmp_path / "folder.md"
    folder.mkdir()
    assert main(["export", "-o", str(folder)]) == 1
    assert "not a regular file" in one_line(capsys)
    assert folder.is_dir()


def test_a_missing_folder_is_not_created(home, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "folder" / "x.md"
    assert main(["export", "-o", str(target)]) == 1
    assert "does not exist" in one_line(capsys)
    assert not (tmp_path / "no").exists()
