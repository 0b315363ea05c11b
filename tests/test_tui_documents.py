"""Documents in the real app: attached whole or summarised in the chat, refused, offered, kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events, on
from textual.widgets import Input

from llama_chat.store.documents import StoredDocument
from llama_chat.tui.bridge import Core
from llama_chat.tui.screens.attach import AttachScreen
from llama_chat.tui.screens.dialogs import ConfirmDialog
from llama_chat.tui.widgets.document_block import DocumentBlock, SummaryProgressBlock
from llama_chat.tui.widgets.message import AssistantMessage
from tests.tui_pilot import (
    SIZE,
    DrivenApp,
    keys_then_turn,
    model_ready,
    on_screen,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio

NOTE = "Project notes\n\nThe deadline for the walrus report is Friday the 14th."


class DocApp(DrivenApp):
    """Also records the summary's progress, and whether the chat showed it at that moment."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.progress: list = []
        self.progress_shown = False

    @on(Core.DocumentProgress)
    def _record_progress(self, message: Core.DocumentProgress) -> None:
        self.progress.append(message.event)
        if self.chat.messages.query_children(SummaryProgressBlock):
            self.progress_shown = True


def make_doc_app(paths, **settings) -> DocApp:
    from llama_chat.settings import Settings

    values = {"max_tokens": 8, "temperature": 0.0, **settings}
    return DocApp(Settings(**values), paths, demo=True)


def prompt_text(app: DocApp) -> str:
    """What the model reads next: the open chat's prompt, decoded."""
    conversation = app.controller.open_conversation
    return conversation.tokenizer.decode(conversation.encode())


def documents(app: DocApp) -> list[StoredDocument]:
    return app.controller.sessions.documents(app.session_id) if app.session_id else []


def long_text(paragraphs: int) -> str:
    return "\n\n".join(
        f"Section {i}. The walrus team met on day {i} and agreed on item {i}. " * 6
        for i in range(paragraphs)
    )


async def attach_by_path(pilot, path: Path) -> None:
    app: DocApp = pilot.app
    await pilot.press("ctrl+t")
    await on_screen(pilot, AttachScreen, "the attach dialog")
    app.screen.query_one("#attach-path", Input).value = str(path)
    await pilot.press("enter")


async def wait_attached(pilot, count: int = 1) -> None:
    app: DocApp = pilot.app
    await wait_for(pilot, lambda: len(widgets(app, DocumentBlock)) >= count, "the document")
    await wait_for(pilot, lambda: not app.busy, "the attach job to end")


async def test_a_small_file_is_read_whole_and_the_next_question_builds_on_it(paths, tmp_path):
    note = tmp_path / "notes.txt"
    note.write_text("\ufeff" + NOTE, encoding="utf-8")  # a BOM is not part of the text
    app = make_doc_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await attach_by_path(pilot, note)
        await wait_attached(pilot)
        (block,) = widgets(app, DocumentBlock)
        title = str(block.title)
        assert block.collapsed and "notes.txt" in title and "read whole" in title
        assert f"Document notes.txt:\n{NOTE}" in prompt_text(app)
        assert not app.progress  # nothing to summarise
        await send(pilot, "When is the deadline?")
        prompt = prompt_text(app)
        assert prompt.index("Friday the 14th") < prompt.index("When is the deadline?")
        (document,) = documents(app)
        assert document.summary is None and document.text == NOTE


async def test_an_over_budget_file_is_summarised_in_the_chat(paths, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text(long_text(12), encoding="utf-8")
    app = make_doc_app(paths, context_limit=1024)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await attach_by_path(pilot, report)
        await wait_attached(pilot)
        maps = [p for p in app.progress if p.stage == "map"]
        assert maps and maps[-1].done == maps[-1].total > 1
        assert app.progress_shown
        assert not widgets(app, SummaryProgressBlock)  # gone once done
        (document,) = documents(app)
        assert document.summary is not None
        (block,) = widgets(app, DocumentBlock)
        assert "summarised" in str(block.title)
        prompt = prompt_text(app)
        assert f"Summary of report.txt (too long to read whole: {document.tokens:,} tokens)" in (
            prompt
        )
        assert "Section 11" not in prompt
        await send(pilot, "What was agreed?")  # the chat goes on over the summary
        assert not app.errors()
        assert "What was agreed?" in prompt_text(app)


async def test_esc_cancels_a_summary_and_saves_nothing(paths, tmp_path):
    report = tmp_path / "big.txt"
    report.write_text(long_text(300), encoding="utf-8")
    app = make_doc_app(paths, context_limit=1024)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await attach_by_path(pilot, report)
        await wait_for(pilot, lambda: app.progress, "the summary to start")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.busy, "the job to end")
        assert any("cancelled" in text for text, _ in app.notices)
        assert not widgets(app, DocumentBlock) and not widgets(app, SummaryProgressBlock)
        assert documents(app) == []
        await send(pilot, "Still there?")  # the chat stays usable
        assert not app.errors()


async def test_binary_and_too_big_files_are_refused_in_one_line(paths, tmp_path):
    binary = tmp_path / "photo.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    big = tmp_path / "big.log"
    big.write_text("x" * 2_000_001)
    app = make_doc_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await attach_by_path(pilot, binary)
        await wait_for(pilot, lambda: app.errors(), "the refusal")
        app.chat.documents.attach_path(big)
        await wait_for(pilot, lambda: len(app.errors()) == 2, "the second refusal")
        first, second = app.errors()
        assert "photo.bin" in first and "\n" not in first
        assert "big.log" in second and "2,000,000" in second and "\n" not in second
        app.chat.prompt.post_message(events.Paste(str(binary)))  # offered, accepted, refused:
        await on_screen(pilot, ConfirmDialog, "the offer")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: len(app.errors()) == 3, "the third refusal")
        assert app.chat.prompt.text == str(binary)  # the pasted path is still there
        assert not widgets(app, DocumentBlock)


async def test_a_pasted_path_offers_to_attach_and_declining_keeps_the_text(paths, tmp_path):
    folder = tmp_path / "my docs"
    folder.mkdir()
    (folder / "plan a.txt").write_text(NOTE)
    pasted = str(folder / "plan a.txt").replace(" ", "\\ ")  # as macOS Terminal drops it
    app = make_doc_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.post_message(events.Paste(pasted))
        await on_screen(pilot, ConfirmDialog, "the offer")
        await pilot.press("escape")  # no
        await wait_for(pilot, lambda: app.chat.prompt.text == pasted, "the text kept")
        app.chat.prompt.clear()
        app.chat.prompt.post_message(events.Paste(f"'{folder / 'plan a.txt'}'"))
        await on_screen(pilot, ConfirmDialog, "the offer again")
        await pilot.click("#confirm")
        await wait_attached(pilot)
        assert app.chat.prompt.text == ""
        assert documents(app)[0].name == "plan a.txt"


async def test_a_message_too_long_to_send_can_be_attached_instead(paths):
    app = make_doc_app(paths, context_limit=1024)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.set_text(long_text(12))
        await pilot.press("enter")
        await on_screen(pilot, ConfirmDialog, "the offer")
        assert "too long for the context" in app.screen.question
        await pilot.click("#confirm")
        await wait_attached(pilot)
        (document,) = documents(app)
        assert document.name == "pasted text" and document.summary is not None


async def test_a_reopened_chat_shows_its_document_block_which_expands(paths, tmp_path):
    note = tmp_path / "notes.md"
    note.write_text(NOTE)
    app = make_doc_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await attach_by_path(pilot, note)
        await wait_attached(pilot)
        session_id = app.session_id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not widgets(app, DocumentBlock), "the new chat")
        app.controller.open_session(session_id)
        await wait_attached(pilot)

        def title_focused() -> bool:
            # The block of the chat shown now (it may be shown again); focus() lands later.
            title = widgets(app, DocumentBlock)[0].query_one("CollapsibleTitle")
            if app.focused is title:
                return True
            title.focus()
            return False

        await wait_for(pilot, title_focused, "the block's title to have focus")
        (block,) = widgets(app, DocumentBlock)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not block.collapsed, "the block to open")
        assert f"Document notes.md:\n{NOTE}" in prompt_text(app)


async def test_right_after_attaching_regenerate_keeps_the_block_and_edit_refuses(paths, tmp_path):
    # The document is the chat's last user turn: answering again must not take its block off
    # the screen, and editing it as if it were the earlier typed message must be refused.
    note = tmp_path / "notes.txt"
    note.write_text(NOTE, encoding="utf-8")
    app = make_doc_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hello")
        await attach_by_path(pilot, note)
        await wait_attached(pilot)
        app.chat.prompt.focus()
        await keys_then_turn(pilot, "ctrl+r")
        assert len(widgets(app, DocumentBlock)) == 1
        assert widgets(app, AssistantMessage)[-1].text  # the document was answered
        await pilot.press("ctrl+e")
        assert not app.editing and not app.chat.prompt.text
        assert "document" in app.notices[-1][0]
