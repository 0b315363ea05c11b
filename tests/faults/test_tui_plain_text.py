"""Names and text the user, a file or the model chose are shown literally, never as markup.

``[a="]x.txt`` is a legal file name and ``[/]`` a legal chat title: read as Textual markup they
raise MarkupError while the chat draws (and the last chat reopens at every start), and
``[@click=app.quit]`` would become an action. Each test puts such text in one place the app
shows and checks the screen holds the literal characters.
"""

from __future__ import annotations

import pytest
from textual.command import CommandList
from textual.content import Content
from textual.widgets import Label
from textual.widgets.collapsible import CollapsibleTitle

from llama_chat.events import Job
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.screens.attach import AttachScreen, InstructionDialog
from llama_chat.tui.widgets.document_block import DocumentBlock, SummaryProgressBlock
from llama_chat.tui.widgets.message import ToolCallMessage
from tests.tui_pilot import SIZE, make_app, model_ready, on_screen, send, wait_for, widgets

pytestmark = pytest.mark.anyio

NAMES = ('[a="]x.txt', "[/]notes.txt", "[@click=app.quit]x.txt")
TITLE = "[/]Trip [b]plans[/b] [@click=app.quit]go"


def seed_hostile_chat(paths) -> int:
    """A chat as an import could leave it: markup in its title, documents and tool call."""
    store = SessionStore.open(paths.sessions_db)
    info = store.create_session(
        title=TITLE, system_prompt="", settings={}, model="demo", quant="4bit"
    )
    parent = None
    for name in NAMES:
        message, _ = store.add_document(
            info.id, f"Document {name}", parent_id=parent, name=name, text="[/]body",
            size_bytes=7, tokens=3,
        )  # fmt: skip
        parent = message.id
    call = {"name": "[/]read_file", "arguments": {"path": "[b]secret[@click=app.quit]"}}
    store.add_message(info.id, "assistant", "", parent_id=parent, tool_calls=[call])
    store.close()
    return info.id


def shown(widget) -> str:
    return widget.render().plain


async def test_a_chat_with_markup_in_its_names_reopens_at_start_and_shows_them(paths):
    seed_hostile_chat(paths)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(widgets(app, DocumentBlock)) == 3, "the documents")
        await pilot.pause()
        titles = [shown(b.query_one(CollapsibleTitle)) for b in widgets(app, DocumentBlock)]
        for name, title in zip(NAMES, titles, strict=True):
            assert name in title
        (call,) = widgets(app, ToolCallMessage)
        assert '[/]read_file(path="[b]secret[@click=app.quit]")' in shown(call)
        (item,) = app.chat.sidebar.items
        assert item.title.plain == TITLE and not item.title.spans  # literal, no markup styles
        assert item.tooltip.plain == TITLE
        # A click on the name toggles the block; it is not the action written in it.
        await pilot.click(widgets(app, DocumentBlock)[2].query_one(CollapsibleTitle))
        await pilot.pause()
        assert app.is_running and not widgets(app, DocumentBlock)[2].collapsed


async def test_the_palette_lists_a_chat_with_markup_in_its_title(paths):
    seed_hostile_chat(paths)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widgets(app, DocumentBlock), "the chat")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"trip")
        await wait_for(pilot, lambda: TITLE in _screen_text(app), "the chat in the palette")


def _screen_text(app) -> str:
    lists = app.screen.query(CommandList)
    if not lists:
        return ""
    return "\n".join(str(option.prompt.plain) for option in lists.first().options)


async def test_notifications_show_paths_and_errors_literally(paths, tmp_path):
    folder = tmp_path / '[a="]exports [b]x'
    folder.mkdir()
    app = make_app(paths, folder)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await model_ready(pilot)
        await send(pilot, "Export me")
        await app.chat.run_action("export_session('markdown')")
        await wait_for(pilot, lambda: any(j.job == Job.EXPORT for j in app.finished_jobs), "it")
        await wait_for(pilot, lambda: app.screen.query("Toast"), "the toast")
        await pilot.pause()
        texts = [shown(toast) for toast in app.screen.query("Toast")]
        assert any('[a="]exports [b]x' in text for text in texts), texts


async def test_dialogs_and_progress_show_document_names_literally(paths, tmp_path):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.push_screen(InstructionDialog(NAMES[1]))
        await on_screen(pilot, InstructionDialog, "the instruction dialog")
        assert NAMES[1] in shown(app.screen.query_one(".dialog-question", Label))
        app.pop_screen()
        app.push_screen(AttachScreen(tmp_path))
        await on_screen(pilot, AttachScreen, "the attach dialog")
        await pilot.click("#attach-path")
        await pilot.press(*"[/]missing", "enter")
        await pilot.pause()
        assert "[/]missing" in shown(app.screen.query_one("#attach-error", Label))
        app.pop_screen()
        block = SummaryProgressBlock(NAMES[0])
        await app.chat.messages.mount(block)
        await pilot.pause()
        # The getter gives the title back as markup, its brackets escaped.
        assert Content.from_markup(block.border_title).plain == f"Summarising {NAMES[0]}"
