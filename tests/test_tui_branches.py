"""Branches in the TUI: "◀ i/n ▶" under a message with siblings, keys and clicks to switch, the
next turn built on the branch shown, and the choice kept when the chat is opened again."""

from __future__ import annotations

import pytest

from llama_chat.events import Job
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.screens.tool_approval import ToolApprovalScreen
from llama_chat.tui.widgets.branch_switcher import BranchSwitcher
from llama_chat.tui.widgets.message import AssistantMessage, ToolCallMessage, UserMessage
from tests.test_tui_tools import calculator_checkpoint  # noqa: F401 (a fixture)
from tests.tui_pilot import (
    SIZE,
    DrivenApp,
    keys_then_turn,
    make_app,
    model_ready,
    on_screen,
    seed_chat,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio


def switcher_texts(app) -> list[str]:
    return [str(s.render()).strip() for s in app.chat.messages.query_children(BranchSwitcher)]


def shown(app) -> list[str]:
    kinds = (UserMessage, AssistantMessage)
    return [w.text for w in app.chat.messages.children if isinstance(w, kinds)]


def fish_chat(paths) -> int:
    """A saved question with one answer; the app opens it on start (the most recent chat)."""
    return seed_chat(paths, "Fish", [("user", "Name a fish"), ("assistant", "Fish 1")])


async def chat_open(pilot, session_id: int) -> None:
    """Wait until the model is loaded and the chat the app reopens on start is open."""
    app = pilot.app
    await model_ready(pilot)

    def settled() -> bool:
        done = {job.job for job in app.finished_jobs}
        return {Job.LOAD, Job.OPEN_SESSION} <= done and app.session_id == session_id

    await wait_for(pilot, settled, "the chat to open")


async def fish_chat_open(pilot, session_id: int) -> None:
    await chat_open(pilot, session_id)
    await wait_for(pilot, lambda: shown(pilot.app) == ["Name a fish", "Fish 1"], "its messages")


async def test_regenerate_twice_switch_to_the_first_and_the_next_turn_builds_on_it(paths):
    session_id = fish_chat(paths)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await fish_chat_open(pilot, session_id)
        app.chat.prompt.focus()
        await keys_then_turn(pilot, "ctrl+r")
        await keys_then_turn(pilot, "ctrl+r")
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 3/3 ▶"], "3/3")
        generated = shown(app)[-1]

        await pilot.press("ctrl+left", "ctrl+left")
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 1/3 ▶"], "1/3")
        assert shown(app) == ["Name a fish", "Fish 1"]
        await pilot.press("right")  # the Mac's key (in an empty box); Ctrl+Right too
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/3 ▶"], "2/3")
        assert shown(app) == ["Name a fish", generated]
        await pilot.press("ctrl+left")
        await wait_for(pilot, lambda: shown(app)[-1] == "Fish 1", "branch 1 again")

        conversation = app.controller.open_conversation
        kept = conversation.cache.length  # rolled back to the fork by the switch
        assert kept > 0
        await send(pilot, "Bigger?")
        prompt = [m["content"] for m in conversation.template_messages()]
        assert prompt[1:4] == ["Name a fish", "Fish 1", "Bigger?"] and len(prompt) == 5
        # Only the new suffix was prefilled: the history up to the fork came from the cache.
        assert conversation.last_stats.cached_tokens == kept
        assert not app.errors()

    app = make_app(paths)  # the chat opens again on the branch that was shown
    async with app.run_test(size=SIZE) as pilot:
        await chat_open(pilot, session_id)
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 1/3 ▶"], "1/3 after reopening")
        assert shown(app)[:3] == ["Name a fish", "Fish 1", "Bigger?"]


async def test_clicking_the_arrows_switches_and_keys_in_a_box_with_text_jump_words(paths):
    session_id = fish_chat(paths)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await fish_chat_open(pilot, session_id)
        app.chat.prompt.focus()
        await keys_then_turn(pilot, "ctrl+r")
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/2 ▶"], "2/2")
        switcher = app.chat.messages.query_children(BranchSwitcher).first()
        width = switcher.content_region.width
        await pilot.click(switcher, offset=(width - len("◀ 2/2 ▶"), 0))
        await wait_for(pilot, lambda: shown(app)[-1] == "Fish 1", "a click on ◀")

        app.chat.prompt.focus()  # the click put the focus on the messages
        await pilot.press(*"two words")
        await pilot.press("ctrl+left")
        await pilot.pause()
        assert app.chat.prompt.cursor_location == (0, 4)  # a word jump, not a branch switch
        assert shown(app)[-1] == "Fish 1"

        app.busy = True  # an answer being written
        app.chat.prompt.clear()
        await pilot.press("ctrl+right")
        assert any("being written" in text for text, _ in app.notices)
        assert shown(app)[-1] == "Fish 1"


async def test_opening_another_chat_shows_its_own_branches(paths):
    def forked(title: str, answers: int) -> int:
        session_id = seed_chat(paths, title, [("user", "Name a fish"), ("assistant", "Fish 1")])
        with SessionStore.open(paths.sessions_db) as store:
            question = store.active_path(session_id)[0].id
            for n in range(2, answers + 1):
                store.add_message(session_id, "assistant", f"Fish {n}", parent_id=question)
        return session_id

    three, two = forked("Three", 3), forked("Two", 2)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.controller.open_session(three)
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 3/3 ▶"], "the first chat")
        app.controller.open_session(two)
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/2 ▶"], "the second chat")


async def test_an_edited_question_shows_the_switcher_on_the_question(paths):
    session_id = fish_chat(paths)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await fish_chat_open(pilot, session_id)
        await pilot.press("ctrl+e")  # edit the question
        await wait_for(pilot, lambda: app.editing, "editing")
        app.chat.prompt.clear()
        await pilot.press(*"Name a big fish")
        await keys_then_turn(pilot, "enter")
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/2 ▶"], "2/2")
        children = list(app.chat.messages.children)
        switcher = app.chat.messages.query_children(BranchSwitcher).first()
        assert isinstance(children[children.index(switcher) - 1], UserMessage)
        await pilot.press("ctrl+left")
        await wait_for(pilot, lambda: shown(app) == ["Name a fish", "Fish 1"], "the old question")
        assert switcher_texts(app) == ["◀ 1/2 ▶"]


async def test_older_messages_scrolled_into_view_get_their_switchers(paths):
    exchange = [("user", "Name a fish"), ("assistant", "Fish 1")]
    # Tall messages: the newest page fills the screen, so older ones wait for a scroll up.
    tall = "\n\n".join(["A line of the message."] * 6)
    exchange += [(role, f"{n}: {tall}") for n in range(8) for role in ("user", "assistant")]
    session_id = seed_chat(paths, "Long", exchange)
    with SessionStore.open(paths.sessions_db) as store:
        first = store.active_path(session_id)[0]
        fish_2 = store.add_message(session_id, "assistant", "Fish 2", parent_id=first.id)
        store.select_branch(store.siblings(fish_2.id)[0].id)  # the long branch stays shown
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await chat_open(pilot, session_id)
        await wait_for(pilot, lambda: len(shown(app)) >= 6, "the newest page")
        # Opening mounts only the newest messages; "Fish 1" comes with an older page (which a
        # slow layout may already have asked for), and that page must bring its switcher.
        while await app.chat.messages.mount_older_page():
            pass
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 1/2 ▶"], "the older page's")


async def test_an_answer_that_starts_with_a_tool_call_has_a_switcher_too(
    paths,
    calculator_checkpoint,  # noqa: F811 (the fixture imported above)
):
    session_id = seed_chat(
        paths, "Sums", [("user", "What is six times seven?"), ("assistant", "42")]
    )
    app = DrivenApp(
        Settings(max_tokens=20, temperature=0.0, tools=True), paths, model_dir=calculator_checkpoint
    )
    async with app.run_test(size=SIZE) as pilot:
        await chat_open(pilot, session_id)
        app.chat.prompt.focus()
        before = app.turns_finished()
        await pilot.press("ctrl+r")  # this model calls the calculator every round
        for answer in ["deny", "once", "always"]:
            await on_screen(pilot, ToolApprovalScreen, "the approval dialog")
            await pilot.click(f"#{answer}")
        await wait_for(pilot, lambda: app.turns_finished() > before, "the end of the turn")
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/2 ▶"], "2/2")
        children = list(app.chat.messages.children)
        switcher = app.chat.messages.query_children(BranchSwitcher).first()
        assert isinstance(children[children.index(switcher) - 1], ToolCallMessage)

        await pilot.press("ctrl+left")
        await wait_for(pilot, lambda: shown(app)[-1] == "42", "the first answer")
        await pilot.press("ctrl+right")  # back: the saved tool call carries the switcher
        await wait_for(pilot, lambda: switcher_texts(app) == ["◀ 2/2 ▶"], "2/2 again")
        assert widgets(app, ToolCallMessage)
