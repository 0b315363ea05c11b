"""Dialogs as a user meets them: the words agree with the buttons, Enter does what the dialog
offers first, and a saved file lands in the documents folder with its path said."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Button

from llama_chat.tui.screens.dialogs import ConfirmDialog
from tests.tui_pilot import SIZE, make_app, model_ready, on_screen, wait_for

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
