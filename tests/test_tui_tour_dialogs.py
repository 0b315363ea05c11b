"""Dialogs as a user meets them: the words agree with the buttons, Enter does what the dialog
offers first, and a saved file lands in the documents folder with its path said."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Button, Input

from llama_chat.tui.screens.dialogs import ConfirmDialog
from llama_chat.tui.screens.save_message import SaveMessageDialog
from llama_chat.tui.widgets.message import AssistantMessage
from tests.tui_pilot import SIZE, make_app, model_ready, on_screen, seed_chat, wait_for, widgets

pytestmark = pytest.mark.anyio


async def test_the_pasted_path_offer_names_its_buttons_and_enter_attaches(paths, tmp_path):
    note = tmp_path / "plan.txt"
    note.write_text("The walrus report is due on Friday.")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.post_message(events.Paste(str(note)))
        await on_screen(pilot, ConfirmDialog, "the offer")
        dialog = app.screen
        labels = {str(b.label) for b in dialog.query(Button)}
        assert labels == {"Attach", "Keep as text"}
        assert "No:" not in dialog.question  # no answer the buttons do not offer
        assert dialog.focused is dialog.query_one("#confirm")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.session_id and app.controller.sessions.documents(app.session_id),
            "the file to be attached",
        )
        assert app.chat.prompt.text == ""


async def test_keep_as_text_leaves_the_pasted_path_in_the_box(paths, tmp_path):
    note = tmp_path / "plan.txt"
    note.write_text("The walrus report is due on Friday.")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.post_message(events.Paste(str(note)))
        await on_screen(pilot, ConfirmDialog, "the offer")
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: app.chat.prompt.text == str(note), "the path kept")
        assert app.session_id is None


def test_the_documents_folder_is_the_users_or_under_llama_chat_home(tmp_path):
    import platformdirs

    from llama_chat.paths import HOME_ENV_VAR, AppPaths

    assert AppPaths.from_env({}).documents_dir == Path(platformdirs.user_documents_dir())
    home = AppPaths.from_env({HOME_ENV_VAR: str(tmp_path)})
    assert home.documents_dir == tmp_path / "documents"


async def test_save_and_export_go_to_the_documents_folder_and_say_where(paths, monkeypatch):
    monkeypatch.chdir(paths.cache_dir)  # not where files should land
    documents = paths.documents_dir
    chat = seed_chat(paths, "Bread", [("user", "Bread tips"), ("assistant", "Use salt.")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await wait_for(pilot, lambda: app.session_id == chat, "the chat to reopen")
        await wait_for(pilot, lambda: widgets(app, AssistantMessage), "its messages")
        await pilot.pause()
        app.chat.prompt.focus()
        await pilot.press("alt+up", "s")
        await on_screen(pilot, SaveMessageDialog, "the save dialog")
        assert app.screen.query_one("#save-path", Input).value == str(documents / "bread-answer.md")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.chat, "the dialog to close")
        assert (documents / "bread-answer.md").read_text(encoding="utf-8") == "Use salt."
        assert any(str(documents / "bread-answer.md") in text for text, _ in app.notices)

        await app.chat.run_action("export_session('markdown')")
        await wait_for(pilot, lambda: list(documents.glob("llama-chat-*.md")), "the export")
        (exported,) = documents.glob("llama-chat-*.md")
        await wait_for(
            pilot, lambda: any(str(exported) in text for text, _ in app.notices), "where it went"
        )
    assert not list(paths.cache_dir.glob("*.md"))
