"""The chat itself, driven with keys: answers stream in, stop, regenerate, edit, copy, new chat."""

from __future__ import annotations

import pytest
from textual import on
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock

from llama_chat.settings import Settings
from llama_chat.status import MessageStatus
from llama_chat.tui.bridge import Core
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from tests.tui_pilot import (
    SIZE,
    DrivenApp,
    keys_then_turn,
    make_app,
    model_ready,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio


class DeltaRecorder(DrivenApp):
    """Records each text fragment once the chat screen has shown it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.deltas: list[str] = []

    @on(Core.TextDelta)
    def _record_delta(self, message: Core.TextDelta) -> None:
        self.deltas.append(message.event.text)


async def test_an_answer_streams_in_and_is_saved(paths):
    app = DeltaRecorder(Settings(max_tokens=24, temperature=0.0), paths, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hello there")

        assert len(app.deltas) >= 2, "the answer should arrive in pieces"
        assert not app.errors()
        (answer,) = widgets(app, AssistantMessage)
        assert answer.text == "".join(app.deltas)
        (user,) = widgets(app, UserMessage)
        assert user.text == "Hello there"
        saved = app.controller.sessions.active_path(app.session_id)
        assert [(m.role, m.content) for m in saved] == [
            ("user", "Hello there"),
            ("assistant", answer.text),
        ]
        # The screen and the store agree on how the answer ended (8 tokens: cut off).
        assert answer.status == saved[-1].status == MessageStatus.CUT_OFF
        assert app.chat.status.context_text.startswith("ctx ")
        assert "tok/s" in app.chat.status.speed_text
        assert not app.errors()


class BlockRecorder(DrivenApp):
    """Records the answer's Markdown blocks as first seen while the answer streamed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.streamed_blocks: list[MarkdownBlock] = []

    @on(Core.TextDelta)
    def _record_blocks(self, message: Core.TextDelta) -> None:
        answer = self.chat.messages.answer
        if not self.streamed_blocks and answer is not None:
            self.streamed_blocks = list(answer.query(MarkdownBlock))


async def test_the_end_of_an_answer_keeps_what_streamed_on_screen(paths):
    # The answer is not rendered again from scratch when it ends (that remounted every block of
    # it, the longer the answer the longer the wait): the streamed blocks are the final ones.
    app = BlockRecorder(Settings(max_tokens=24, temperature=0.0), paths, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hello there")

        assert app.streamed_blocks, "no block was shown while the answer streamed"
        (answer,) = widgets(app, AssistantMessage)
        assert all(block.is_attached for block in app.streamed_blocks), "rendered again"
        assert answer.query_one(Markdown).source == answer.text
        saved = app.controller.sessions.active_path(app.session_id)
        assert saved[-1].content == answer.text


async def test_a_cut_off_answer_says_so_live_and_after_reopening(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Tell me a long story")
        (live,) = widgets(app, AssistantMessage)
        assert live.status == MessageStatus.CUT_OFF
        assert "cut off" in live.border_subtitle
        session_id = app.session_id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.session_id is None, "a new chat")
        await app.chat.run_action(f"open_session({session_id})")
        await wait_for(
            pilot,
            lambda: (
                [a.border_subtitle for a in widgets(app, AssistantMessage)]
                == [live.border_subtitle]
            ),
            "the reopened chat's answer with the same note",
        )


async def test_user_text_is_shown_literally_and_multi_line_input_works(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press(*"[b]not bold[/b]", "ctrl+j", *"*not italic*", "shift+enter", "x")
        assert app.chat.prompt.text == "[b]not bold[/b]\n*not italic*\nx"
        await keys_then_turn(pilot, "enter")
        (user,) = widgets(app, UserMessage)
        assert user.text == "[b]not bold[/b]\n*not italic*\nx"
        rendered = "\n".join(
            "".join(segment.text for segment in user.render_line(y))
            for y in range(user.size.height)
        )
        assert "[b]not bold[/b]" in rendered and "*not italic*" in rendered
        # Up in the empty box brings the last message back; in a full box it moves the cursor.
        await pilot.press("up")
        assert app.chat.prompt.text == "[b]not bold[/b]\n*not italic*\nx"
        await pilot.press("up")
        assert app.chat.prompt.cursor_location[0] == 1


async def test_escape_stops_the_answer_within_a_token_and_keeps_it_marked_stopped(paths):
    app = make_app(paths, max_tokens=5000, context_limit=16384)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        engine_deltas: list[str] = []
        forward = app.controller.on_event

        def on_engine_thread(event):
            if type(event).__name__ == "TextDelta":
                engine_deltas.append(event.text)
            forward(event)

        app.controller.on_event = on_engine_thread
        app.chat.prompt.focus()
        before = app.turns_finished()
        await pilot.press(*"Keep talking", "enter")
        await wait_for(
            pilot,
            lambda: (a := app.chat.messages.answer) is not None and len(a.text) > 20,
            "some streamed text",
        )
        live = app.chat.messages.answer
        assert live.status == MessageStatus.STREAMING and live.has_class("-streaming")
        assert app.busy
        assert app.chat.status.activity_text == "writing…"  # not the prompt's reading any more
        stop, asked = app.controller.stop, []

        def stopping() -> None:  # counted as the stop reaches the engine, not before the key
            asked.append(len(engine_deltas))
            stop()

        app.controller.stop = stopping
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.turns_finished() > before, "the stop")

        assert not app.busy
        (answer,) = widgets(app, AssistantMessage)
        assert answer.status == MessageStatus.STOPPED and "stopped" in answer.border_subtitle
        after_stop = len(engine_deltas) - asked[0]
        assert after_stop <= 2, f"{after_stop} tokens arrived after Esc"
        saved = app.controller.sessions.active_path(app.session_id)[-1]
        assert saved.status == MessageStatus.STOPPED
        assert saved.content == answer.text and answer.text


async def test_regenerate_writes_a_new_answer_and_keeps_the_old_one_as_a_branch(paths):
    # Seeded: an unseeded sample from the random demo model may end at once with an empty answer.
    app = make_app(paths, temperature=1.0, seed=5, max_tokens=6)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Pick a word")
        assert widgets(app, AssistantMessage)[0].text
        await keys_then_turn(pilot, "ctrl+r")
        assert len(widgets(app, UserMessage)) == 1
        (answer,) = widgets(app, AssistantMessage)
        sessions = app.controller.sessions
        path = sessions.active_path(app.session_id)
        assert [m.role for m in path] == ["user", "assistant"]
        assert path[-1].content == answer.text
        assert len(sessions.siblings(path[-1].id)) == 2


async def test_edit_last_message_replaces_it_and_answers_again(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "First try")
        await pilot.press("ctrl+e")
        assert app.editing and app.chat.prompt.text == "First try"
        assert app.chat.query_one("#editing-hint").display
        app.chat.prompt.clear()
        await send(pilot, "Second try")
        assert not app.editing and not app.chat.query_one("#editing-hint").display
        assert [u.text for u in widgets(app, UserMessage)] == ["Second try"]
        assert len(widgets(app, AssistantMessage)) == 1
        path = app.controller.sessions.active_path(app.session_id)
        assert [(m.role, m.content) for m in path][0] == ("user", "Second try")
        assert len(path) == 2


async def test_escape_cancels_editing(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hello")
        await pilot.press("ctrl+e")
        assert app.editing
        await pilot.press("escape")
        assert not app.editing and app.chat.prompt.text == ""


async def test_copy_last_answer_puts_it_on_the_clipboard(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Say something")
        await pilot.press("ctrl+o")
        assert app.clipboard == widgets(app, AssistantMessage)[-1].text != ""


async def test_new_chat_and_the_sidebar_toggle(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "First chat")
        first = app.session_id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.session_id is None, "a new chat")
        await wait_for(pilot, lambda: not app.chat.messages.children, "an empty list")
        await send(pilot, "Second chat")
        assert app.session_id not in (None, first)
        titles = ["Second chat", "First chat"]  # the sidebar adds the row on its own queue
        await wait_for(
            pilot,
            lambda: [i.session.title for i in app.chat.sidebar.items] == titles,
            "the new chat's row",
        )

        await pilot.press("ctrl+b", "ctrl+b")  # to the chats' search, then hidden
        assert not app.chat.sidebar.display and app.chat.prompt.has_focus
        await pilot.press("ctrl+b")
        assert app.chat.sidebar.display
        assert app.chat.sidebar.query_one("#session-search").has_focus


async def test_regenerate_and_edit_are_greyed_out_while_an_answer_is_written(paths):
    app = make_app(paths, max_tokens=5000, context_limit=16384)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        assert app.chat.check_action("stop", ()) is False
        app.chat.prompt.focus()
        before = app.turns_finished()
        await pilot.press(*"Go on", "enter")
        await wait_for(pilot, lambda: app.chat.messages.answer is not None, "the answer")
        assert app.chat.check_action("regenerate", ()) is None
        assert app.chat.check_action("stop", ()) is True
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.turns_finished() > before, "the stop")
        assert app.chat.check_action("regenerate", ()) is True
