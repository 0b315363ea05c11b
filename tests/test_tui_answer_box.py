"""The answer's box on screen: mounted before the first token, and no restyle of the chat around it.

A new chat's first token in the app used to come twice as late as in the command line: the
answer's widget was mounted only when the first token came, and each mount restyled every
message (and every block of the growing answer), because one CSS rule with ``:last-child`` gave
every widget an order style.
"""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock

from llama_chat.events import Job
from llama_chat.status import MessageStatus
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from llama_chat.tui.widgets.priority_footer import HOLD_AT_MOST_S, PriorityFooter
from tests.tui_pilot import SIZE, make_app, model_ready, seed_chat, send, wait_for, widgets

pytestmark = pytest.mark.anyio


def blocks(app) -> list[MarkdownBlock]:
    answers = widgets(app, AssistantMessage)
    return list(answers[-1].query_one(Markdown).query_children(MarkdownBlock)) if answers else []


async def shown_as_loaded(pilot) -> None:
    """The last chat reopened and the model loaded: nothing replaces the chat later."""
    app = pilot.app
    ended = lambda: {Job.LOAD, Job.OPEN_SESSION} <= {j.job for j in app.finished_jobs}  # noqa: E731
    await wait_for(pilot, ended, "the chat shown as the model loaded")


LONG_ANSWER = "First paragraph of the answer.\n\nA second one.\n\n- a list\n- of two\n"


async def test_the_answer_box_is_on_screen_while_the_engine_has_not_answered_yet(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        # Another program holds the database: the engine waits to save the message, so
        # nothing it sends can have reached the screen yet.
        other = sqlite3.connect(paths.sessions_db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            app.chat.prompt.focus()
            await pilot.press(*"Hello there", "enter")
            await pilot.pause()
            assert [w.text for w in widgets(app, UserMessage)] == ["Hello there"]
            [box] = widgets(app, AssistantMessage)
            assert box.status == MessageStatus.STREAMING and box.text == ""
        finally:
            other.execute("ROLLBACK")
            other.close()
        await wait_for(pilot, lambda: app.turns_finished() == 1 and not app.busy, "the answer")
        [answer] = widgets(app, AssistantMessage)
        assert answer is box  # the same box took the text
        assert answer.text and answer.status != MessageStatus.STREAMING


def footer_actions(app) -> list[str]:
    return [key.action for key in app.chat.query_one(PriorityFooter).query("FooterKey")]


async def test_the_footer_keeps_its_keys_while_the_engine_reads_the_prompt(paths):
    # An answer starting changes the keys (Esc stops it), and rebuilding the footer is a mount
    # and a layout of the screen: done while the engine reads the prompt, it took the CPU from
    # it and delayed the first text. It waits for the first text, a second at most.
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.pause()
        before = footer_actions(app)
        assert "stop" not in before
        other = sqlite3.connect(paths.sessions_db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the engine waits to save the message: no text yet
        try:
            await pilot.press(*"Hello there", "enter")
            await wait_for(pilot, lambda: app.busy, "the answer's job")
            await pilot.pause(HOLD_AT_MOST_S / 2)
            assert footer_actions(app) == before  # Esc works already; the key shows later
            await wait_for(pilot, lambda: "stop" in footer_actions(app), "Esc, a second on", 5)
        finally:
            other.execute("ROLLBACK")
            other.close()
        await wait_for(pilot, lambda: app.turns_finished() == 1 and not app.busy, "the answer")
        await wait_for(pilot, lambda: "stop" not in footer_actions(app), "the keys of no answer")
        # The new chat's row in the list was added once the text came.
        await wait_for(pilot, lambda: len(app.chat.sidebar.items) == 1, "the new chat's row")


async def test_a_new_turn_restyles_none_of_the_answers_already_shown(paths):
    seed_chat(paths, "Earlier", [("user", "Q1"), ("assistant", LONG_ANSWER)] * 3)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await shown_as_loaded(pilot)
        await wait_for(pilot, lambda: len(widgets(app, AssistantMessage)) == 3, "the saved chat")
        await pilot.pause()
        earlier = set()
        for answer in widgets(app, AssistantMessage):
            earlier.update(answer.walk_children(with_self=True))
        restyled = []
        update_styles = app.update_styles

        def recording(node, animate=True):
            restyled.append(node)
            return update_styles(node, animate)

        app.update_styles = recording
        await send(pilot, "One more question")
        app.update_styles = update_styles
        assert len(widgets(app, AssistantMessage)) == 4
        assert restyled  # the new messages were styled
        assert not [node for node in restyled if node in earlier]


async def test_only_the_last_block_of_an_answer_drops_its_margin_below(paths):
    seed_chat(paths, "Blocks", [("user", "Q"), ("assistant", LONG_ANSWER)])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await shown_as_loaded(pilot)
        await wait_for(pilot, lambda: len(blocks(app)) == 3, "the answer's blocks")
        await pilot.pause()
        assert [b.styles.margin.bottom for b in blocks(app)] == [1, 1, 0]
        # A block streamed in after it takes the place of the last one.
        await widgets(app, AssistantMessage)[0].query_one(Markdown).append("\n\nA closing line.")
        await pilot.pause()
        assert [b.styles.margin.bottom for b in blocks(app)] == [1, 1, 1, 0]


async def test_a_status_or_the_cursor_restyles_the_answer_box_not_its_blocks(paths):
    seed_chat(paths, "Blocks", [("user", "Q"), ("assistant", LONG_ANSWER)])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await shown_as_loaded(pilot)
        await wait_for(pilot, lambda: len(blocks(app)) == 3, "the answer's blocks")
        [answer] = widgets(app, AssistantMessage)
        await pilot.pause()
        restyled = []
        update_nodes = app.stylesheet.update_nodes

        def recording(nodes, animate=False):
            nodes = list(nodes)
            restyled.extend(nodes)
            return update_nodes(nodes, animate)

        app.stylesheet.update_nodes = recording
        app.chat.messages.select(answer)  # the cursor on the answer: its border turns heavy
        await pilot.pause()
        answer.set_status(MessageStatus.STOPPED)
        await pilot.pause()
        app.stylesheet.update_nodes = update_nodes
        assert answer.styles.border.top[0] == "heavy"
        assert answer in restyled
        assert not [node for node in restyled if isinstance(node, MarkdownBlock)]
