"""The live draft counter on the message box: the draft's tokens and the room left."""

from __future__ import annotations

import pytest

from llama_chat.tui.widgets.prompt_input import describe_draft
from mlx_model.tokenizer import Tokenizer
from tests.tui_pilot import SIZE, make_app, model_ready, send, wait_for

pytestmark = pytest.mark.anyio


def test_the_room_left_keeps_max_tokens_for_the_answer():
    assert describe_draft(142, 3_000, 8_192, 1_024) == ("142 tokens · 4,168 left", False)
    assert describe_draft(1, 0, 4_096, 96) == ("1 token · 4,000 left", False)


def test_a_draft_over_the_room_left_warns_that_older_turns_drop_out():
    text, warn = describe_draft(500, 7_000, 8_192, 1_024)
    assert warn and text == "500 tokens · 168 left · older messages will drop out"


def test_a_draft_over_the_whole_context_warns_that_it_would_be_refused():
    text, warn = describe_draft(7_200, 0, 8_192, 1_024)
    assert warn and text.endswith("too long: it would be refused")


async def test_typing_shows_the_real_token_count_and_the_room_left(paths, tokenizer_model_path):
    app = make_app(paths, context_limit=1024, max_tokens=24)
    draft = "Hello there, how many tokens is this sentence?"
    expected = len(Tokenizer.from_tiktoken_file(tokenizer_model_path).encode(draft))
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        # The new chat already holds its system prompt.
        await wait_for(pilot, lambda: app.chat.status.context_used, "the new chat counted")
        left = 1024 - 24 - app.chat.status.context_used
        prompt = app.chat.prompt
        prompt.focus()
        await pilot.press(*draft)
        # The count follows the typing: under load the first one shown may be of part of it.
        want = f"{expected} tokens · {left:,} left"
        await wait_for(pilot, lambda: prompt.border_subtitle == want, f"the count {want!r}")
        assert prompt.border_subtitle == want
        assert not prompt.has_class("-over-budget")
        prompt.clear()
        await wait_for(pilot, lambda: not prompt.border_subtitle, "an empty box to clear it")


async def test_the_counter_warns_when_the_chat_leaves_too_little_room(paths):
    app = make_app(paths, context_limit=4096, max_tokens=8)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hi")
        used = app.chat.status.context_used
        assert used > 0
        prompt = app.chat.prompt
        prompt.focus()
        prompt.insert("word " * (4096 - 8 - used - 20))  # fits, just
        await wait_for(pilot, lambda: prompt.border_subtitle, "the count")
        assert not prompt.has_class("-over-budget")
        prompt.insert("word " * 40)
        await wait_for(pilot, lambda: prompt.has_class("-over-budget"), "the warning")
        assert "older messages will drop out" in str(prompt.border_subtitle)


async def test_the_room_left_is_counted_again_when_an_answer_ends(paths):
    app = make_app(paths, context_limit=4096, max_tokens=8)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await wait_for(pilot, lambda: app.chat.status.context_used, "the new chat counted")
        left = 4096 - 8 - app.chat.status.context_used
        prompt = app.chat.prompt
        prompt.focus()
        await pilot.press(*"Hi")
        await wait_for(pilot, lambda: prompt.border_subtitle, "the count")
        assert prompt.border_subtitle == f"1 token · {left:,} left"
        # An answer ends while the draft rests in the box (nothing typed since): less room.
        before = app.turns_finished()
        app.controller.send("Hello")
        await wait_for(pilot, lambda: app.turns_finished() > before, "the answer")
        used = app.chat.status.context_used
        assert used > 0 and prompt.text == "Hi"
        await wait_for(
            pilot, lambda: prompt.border_subtitle == f"1 token · {4088 - used:,} left", "a recount"
        )
