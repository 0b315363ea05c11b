"""The file tool reads what it checked: no symlink, pipe or swap can slip past the check."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llama_chat.tools import ToolError, read_text_file

SECRET = "outside secret"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    (allowed / "sub" / "inner.txt").write_text("inside")
    (outside / "secret.txt").write_text(SECRET)
    return allowed, outside


@pytest.fixture
def fast_switching() -> Iterator[None]:
    # Threads take turns far more often, so the race windows are actually hit.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_a_symlink_leaf_is_refused(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    (allowed / "leaf.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(ToolError, match=r"symbolic link \(leaf.txt\)"):
        read_text_file("leaf.txt", [allowed])


def test_a_symlink_in_a_middle_folder_is_refused(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    (allowed / "sub" / "via").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ToolError, match=r"symbolic link \(via\)"):
        read_text_file("sub/via/secret.txt", [allowed])


def run_with_timeout(work: Callable[[], object], seconds: float) -> bool:
    """Run `work` in a daemon thread; True if it finished within `seconds`."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def release_fifo_readers(path: Path) -> None:
    # A reader stuck opening a FIFO is released by a writer opening it.
    for _ in range(100):
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


def test_a_named_pipe_is_refused_without_blocking(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    os.mkfifo(allowed / "pipe")
    errors: list[str] = []

    def read() -> None:
        try:
            read_text_file("pipe", [allowed])
        except ToolError as error:
            errors.append(str(error))

    finished = run_with_timeout(read, 5)
    release_fifo_readers(allowed / "pipe")
    assert finished, "reading a named pipe blocked"
    assert errors and "not a regular file" in errors[0]


class Swapper:
    """Keeps replacing `target` (atomically, by rename) with a file and with `other()`."""

    def __init__(self, target: Path, make_other: Callable[[Path], None]) -> None:
        self.target = target
        self.make_other = make_other
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        spare = self.target.with_name(".spare")
        while not self.stop.is_set():
            spare.unlink(missing_ok=True)
            spare.write_text("inside")
            os.replace(spare, self.target)
            self.make_other(spare)
            os.replace(spare, self.target)

    def __enter__(self) -> Swapper:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(5)


CALLS = 2000


@pytest.mark.usefixtures("fast_switching")
def test_swapping_in_a_symlink_never_yields_the_outside_file(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    target = allowed / "target.txt"
    target.write_text("inside")
    seen: dict[str, int] = {}
    with Swapper(target, lambda spare: spare.symlink_to(outside / "secret.txt")):
        for _ in range(CALLS):
            try:
                content = read_text_file("target.txt", [allowed])["content"]
            except ToolError:
                content = "refused"
            seen[content] = seen.get(content, 0) + 1
    assert SECRET not in seen, f"read the outside file {seen.get(SECRET)} times in {CALLS}"
    assert seen.get("inside", 0) > 0  # the race was real: the file was read between swaps


@pytest.mark.usefixtures("fast_switching")
def test_swapping_in_a_named_pipe_never_blocks(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    target = allowed / "target.txt"
    target.write_text("inside")
    outcomes: dict[str, int] = {}

    def read_many() -> None:
        for _ in range(CALLS):
            try:
                read_text_file("target.txt", [allowed])
                outcome = "read"
            except ToolError:
                outcome = "refused"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    with Swapper(target, lambda spare: os.mkfifo(spare)):
        finished = run_with_timeout(read_many, 30)
    release_fifo_readers(target)
    assert finished, f"a read blocked on a named pipe after {outcomes}"
