"""The message cursor, driven with keys on the real app: move it (into older pages), copy a
message or one of its code blocks, save a message to Markdown, continue a cut-off answer."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from llama_chat.settings import Settings
from llama_chat.status import MessageStatus
from llama_chat.tui.screens.save_message import SaveMessageDialog
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from tests.scripted import WORDS
from tests.tui_pilot import (
    SIZE,
    DrivenApp,
    footer_shows,
    keys_then_turn,
    make_app,
    model_ready,
    on_screen,
    open_and_settle,
    seed_chat,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio

THREE_BLOCKS = """Three ways:

```python
print("one")
```

Or in a shell:

```bash
echo two
```

And finally:

```js
console.log("three")
```"""


async def open_chat(pilot, exchange: list[tuple[str, str]]) -> None:
    await open_and_settle(pilot, seed_chat(pilot.app.paths, "Cursor", exchange))


async def test_the_cursor_moves_over_messages_into_older_pages_and_typing_leaves_it(paths):
    # Many tall messages: the newest fill the screen, so older ones wait unmounted.
    exchange = [(r, f"{r} {i}" + "\n\nmore" * 4) for i in range(40) for r in ("user", "assistant")]
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, exchange)
        messages = app.chat.messages
        assert messages.selected is None and messages.older
        await pilot.press("ctrl+k")  # the Mac's key; Alt+Up and Ctrl+Up too (below)
        assert messages.selected is messages.selectable()[-1]
        assert messages.selected.has_class("-selected") and messages.has_focus
        await footer_shows(pilot, {"Copy", "Copy code", "Save", "Back"})

        await pilot.press("up", "k")
        assert messages.selected.text.startswith("assistant 38")
        assert not messages.selectable()[-1].has_class("-selected")
        await pilot.press("j")
        assert messages.selected.text.startswith("user 39")
        # Up past the first mounted message mounts the next older page and steps onto it.
        mounted, unmounted = len(messages.selectable()), len(messages.older)
        await pilot.press(*["up"] * (mounted - 2))  # from the second newest to the first mounted
        assert messages.selected.text == exchange[-mounted][1]
        await pilot.press("up")
        assert messages.selected.text == exchange[-mounted - 1][1]
        assert len(messages.older) < unmounted
        assert messages.scroll_y <= messages.selected.virtual_region.y

        await pilot.press("x")  # typing goes back to the box, with what was typed
        assert messages.selected is None and app.chat.prompt.has_focus
        assert app.chat.prompt.text == "x"
        await pilot.press("alt+up", "escape")
        assert messages.selected is None and app.chat.prompt.has_focus
        await pilot.press("up")  # the box's own key again: brings back nothing, moves nothing
        assert messages.selected is None


async def test_the_cursor_keys_are_on_as_soon_as_the_screen_focuses_the_list(paths):
    # The screen rebuilds the footer after its next refresh once the focus moved; the list
    # learns it has the focus only as it handles its Focus event, which may come later. The
    # footer then lacked the cursor's keys until some other change rebuilt it.
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, [("user", "Hi"), ("assistant", "Hello.")])
        messages = app.chat.messages
        messages.select(messages.selectable()[-1])
        app.chat.set_focus(messages)  # its Focus event is queued, not handled yet
        assert not messages.has_focus
        assert messages.check_action("copy_message", ())
        assert app.chat.check_action("cursor_leave", ())


async def test_moving_up_while_the_older_page_is_still_loading_waits_for_it(paths):
    exchange = [(r, f"{r} {i}" + "\n\nmore" * 4) for i in range(40) for r in ("user", "assistant")]
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, exchange)
        messages = app.chat.messages
        await pilot.press("alt+up")
        first = messages.selectable()[0]
        messages.select(first)  # scrolled to the top: the older page starts loading...
        await messages.run_action("cursor_move(-1)")  # ...and Up comes before it is mounted
        texts = [text for _, text in exchange]
        assert messages.selected.text == texts[texts.index(first.text) - 1]


async def test_c_copies_the_selected_message(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, [("user", "Plan a *loaf*"), ("assistant", THREE_BLOCKS)])
        await pilot.press("ctrl+k", "c")
        assert app.clipboard == THREE_BLOCKS
        await pilot.press("up", "c")
        assert app.clipboard == "Plan a *loaf*"
        assert isinstance(app.chat.messages.selected, UserMessage)


async def test_b_copies_code_blocks_in_turn_and_says_which(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, [("user", "Show me"), ("assistant", THREE_BLOCKS)])
        await pilot.press("ctrl+up", "b")
        assert app.clipboard == 'print("one")'
        await pilot.press("b")
        assert app.clipboard == "echo two"
        assert app.notices[-1][0].startswith("Copied code block 2 of 3 (bash)")
        await pilot.press("b", "b")
        assert app.clipboard == 'print("one")', "after the last block, the first again"
        await pilot.press("up", "b")
        assert app.notices[-1] == ("This message has no code block.", "warning")


async def test_s_saves_the_message_to_markdown_and_asks_before_replacing(paths, tmp_path):
    app = make_app(paths, export_dir=tmp_path / "exports")
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, [("user", "Show me"), ("assistant", THREE_BLOCKS)])
        await pilot.press("alt+up", "s")
        await on_screen(pilot, SaveMessageDialog, "the save dialog")
        field = app.screen.query_one("#save-path", Input)
        assert field.value == str(tmp_path / "exports" / "cursor-answer.md")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.chat, "the dialog to close")
        saved = tmp_path / "exports" / "cursor-answer.md"
        assert saved.read_text(encoding="utf-8") == THREE_BLOCKS

        saved.write_text("older notes", encoding="utf-8")
        await pilot.press("s")
        await on_screen(pilot, SaveMessageDialog, "the save dialog")
        field = app.screen.query_one("#save-path", Input)
        field.value = str(saved / "inside-a-file.md")  # a folder that cannot be: one line why
        await pilot.press("enter")
        error = str(app.screen.query_one("#save-error").render())
        assert error.startswith("Could not save: ") and "\n" not in error
        field.value = str(saved)
        await pilot.press("enter")
        assert isinstance(app.screen, SaveMessageDialog), "an existing file is not replaced"
        error = str(app.screen.query_one("#save-error").render())
        assert error == "cursor-answer.md exists. Save again to replace it."
        assert saved.read_text(encoding="utf-8") == "older notes"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.chat, "the dialog to close")
        assert saved.read_text(encoding="utf-8") == THREE_BLOCKS


async def test_a_cut_off_answer_continues_in_the_same_message(paths, counting_checkpoint):
    app = DrivenApp(Settings(max_tokens=6, temperature=0.0), paths, model_dir=counting_checkpoint)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Count")
        (answer,) = widgets(app, AssistantMessage)
        assert (
            answer.status == MessageStatus.CUT_OFF and answer.text == " one two three four five six"
        )
        await footer_shows(pilot, {"Continue the answer"})
        await keys_then_turn(pilot, "ctrl+g")
        assert widgets(app, AssistantMessage) == [answer]
        assert answer.status == MessageStatus.COMPLETE and answer.text == WORDS
        path = app.controller.sessions.active_path(app.session_id)
        assert [(m.role, m.content, m.status) for m in path] == [
            ("user", "Count", MessageStatus.COMPLETE),
            ("assistant", WORDS, MessageStatus.COMPLETE),
        ]
        assert app.chat.check_action("continue_answer", ()) is False
        await pilot.press("ctrl+g")  # nothing left to continue: starts nothing
        assert not app.busy and app.turns_finished() == 2
