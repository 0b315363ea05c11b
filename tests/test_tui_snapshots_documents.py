"""What a document looks like in the chat at 80×24: the collapsed block, the opened one, the
summary's progress and the attach dialog, compared with approved SVG snapshots."""

from __future__ import annotations

import sqlite3

import pytest
from textual.pilot import Pilot

from llama_chat.events import DocumentProgress, Job
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.screens.attach import AttachScreen
from llama_chat.tui.widgets.document_block import DocumentBlock, SummaryProgressBlock
from tests.test_tui_snapshots import LAST_USED, SMALL, fixed_machine, paths, settle  # noqa: F401
from tests.tui_pilot import make_app, model_ready, on_screen, wait_for, widgets

REPORT = "\n".join(
    f"{i}. The walrus survey team counts colony {i} on day {i}; the deadline is Friday."
    for i in range(1, 41)
)

pytestmark = pytest.mark.xdist_group("snapshots")  # see test_tui_snapshots.py


@pytest.fixture
def chat_with_document(paths) -> int:  # noqa: F811
    store = SessionStore.open(paths.sessions_db)
    info = store.create_session(
        title="Walrus report", system_prompt="", settings={}, model="demo", quant="4bit"
    )
    message, _ = store.add_document(
        info.id,
        f"Document report.txt:\n{REPORT}",
        parent_id=None,
        name="report.txt",
        text=REPORT,
        size_bytes=len(REPORT.encode()),
        tokens=1_203,
    )
    question = store.add_message(info.id, "user", "When is the deadline?", parent_id=message.id)
    store.add_message(info.id, "assistant", "Friday.", parent_id=question.id)
    store.close()
    with sqlite3.connect(paths.sessions_db) as conn:
        conn.execute("UPDATE sessions SET updated_at = ?", (LAST_USED,))
    return info.id


async def open_chat(pilot: Pilot, session_id: int) -> None:
    app = pilot.app
    await model_ready(pilot)
    app.controller.open_session(session_id)
    # The opening job's end is handled after the chat is shown: nothing replaces it later.
    opened = lambda: any(job.job == Job.OPEN_SESSION for job in app.finished_jobs)  # noqa: E731
    await wait_for(pilot, opened, "the chat to open")
    await wait_for(pilot, lambda: widgets(app, DocumentBlock), "the document block")
    await pilot.pause()


def test_document_block_collapsed(snap_compare, paths, chat_with_document):  # noqa: F811
    async def run_before(pilot: Pilot) -> None:
        await open_chat(pilot, chat_with_document)
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)


def test_document_block_open(snap_compare, paths, chat_with_document):  # noqa: F811
    async def run_before(pilot: Pilot) -> None:
        await open_chat(pilot, chat_with_document)
        (block,) = widgets(pilot.app, DocumentBlock)
        block.collapsed = False
        await pilot.pause()
        pilot.app.chat.messages.scroll_home(animate=False)
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)


def test_summary_progress(snap_compare, paths):  # noqa: F811
    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        block = SummaryProgressBlock("report.txt")
        await pilot.app.chat.messages.mount(block)
        block.show(DocumentProgress("report.txt", "map", 3, 8, 412.0))
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)


def test_attach_dialog(snap_compare, paths, tmp_path):  # noqa: F811
    for name in ("report.txt", "notes.md", "budget.csv"):
        (tmp_path / name).write_text("x")
    (tmp_path / "drafts").mkdir()

    async def run_before(pilot: Pilot) -> None:
        await model_ready(pilot)
        pilot.app.push_screen(AttachScreen(tmp_path))
        await on_screen(pilot, AttachScreen, "the attach dialog")
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)
