"""The palette's summaries in the real app: of the whole chat, and of a document again."""

from __future__ import annotations

import pytest
from textual import on
from textual.widgets import Input

from llama_chat.chat.summarize import count_tokens
from llama_chat.tui.bridge import Core
from llama_chat.tui.screens.attach import InstructionDialog
from llama_chat.tui.widgets.document_block import DocumentBlock
from llama_chat.tui.widgets.message import AssistantMessage
from tests.test_tui_documents import NOTE, DocApp, attach_by_path, wait_attached
from tests.test_tui_keys import palette_text
from tests.tui_pilot import SIZE, model_ready, on_screen, seed_chat, wait_for, widgets

pytestmark = pytest.mark.anyio


class SummaryApp(DocApp):
    """Also records how each answer ended (its prompt size among the stats)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.turns: list = []

    @on(Core.TurnFinished)
    def _record_turn(self, message: Core.TurnFinished) -> None:
        self.turns.append(message.event)


def make_app(paths) -> SummaryApp:
    from llama_chat.settings import Settings

    return SummaryApp(Settings(max_tokens=8, temperature=0.0), paths, demo=True)


async def run_command(pilot, title: str) -> None:
    app = pilot.app
    await pilot.press("ctrl+p")
    await pilot.press(*title)
    await wait_for(pilot, lambda: title in palette_text(app), "the command")
    await pilot.press("enter")


async def test_summarise_this_chat_writes_the_summary_as_an_answer(paths):
    exchange = [("user", "Plan the walrus survey"), ("assistant", "Count them on Friday")]
    session_id = seed_chat(paths, "Walruses", exchange)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.controller.open_session(session_id)
        await wait_for(pilot, lambda: app.session_id == session_id, "the chat")
        before = app.turns_finished()
        await run_command(pilot, "Summarise this chat")
        await wait_for(pilot, lambda: app.turns_finished() > before and not app.busy, "summary")
        assert ("Summary of this chat written.", "information") in app.notices
        (turn,) = app.turns
        tokenizer = app.controller.open_conversation.tokenizer
        transcript = "User: Plan the walrus survey\n\nAssistant: Count them on Friday"
        assert turn.stats.prompt_tokens > count_tokens(tokenizer, transcript)
        stored = app.controller.sessions.active_path(session_id)
        assert len(stored) == 3 and stored[-1].role == "assistant"
        assert stored[-1].content == turn.text == widgets(app, AssistantMessage)[-1].text


async def test_summarise_a_document_again_follows_the_instruction(paths, tmp_path):
    note = tmp_path / "notes.txt"
    note.write_text(NOTE)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await attach_by_path(pilot, note)
        await wait_attached(pilot)
        for instruction in ("", "focus on the deadlines"):
            before = app.turns_finished()
            await run_command(pilot, "Summarise document again")
            await on_screen(pilot, InstructionDialog, "the instruction")
            app.screen.query_one("#instruction", Input).value = instruction
            await pilot.press("enter")
            await wait_for(pilot, lambda b=before: app.turns_finished() > b, "the summary")
        plain, focused = app.turns
        tokenizer = app.controller.open_conversation.tokenizer
        extra = count_tokens(tokenizer, " focus on the deadlines")
        assert focused.stats.prompt_tokens - plain.stats.prompt_tokens == extra
        notes = [text for text, _ in app.notices if text.startswith("Summary of")]
        assert notes == ["Summary of notes.txt written."] * 2
        assert len(widgets(app, AssistantMessage)) == 2


async def test_summarise_again_takes_the_document_under_the_cursor(paths, tmp_path):
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text(NOTE)
    second.write_text("Another note: the budget is 40 walruses.")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await attach_by_path(pilot, first)
        await wait_attached(pilot)
        await attach_by_path(pilot, second)
        await wait_attached(pilot, 2)
        app.chat.messages.selected = widgets(app, DocumentBlock)[0]
        before = app.turns_finished()
        await run_command(pilot, "Summarise document again")
        await on_screen(pilot, InstructionDialog, "the instruction")
        assert "first.txt" in str(app.screen.query_one(".dialog-question").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_finished() > before, "the summary")
        assert ("Summary of first.txt written.", "information") in app.notices
