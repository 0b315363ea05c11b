"""A chat that outgrows its context: the window start moves in blocks, so turns reuse the cache."""

from __future__ import annotations

from dataclasses import replace

import pytest

import mlx_model
from llama_chat.chat.conversation import (
    Conversation,
    GenerationSettings,
)
from llama_chat.chat.presets import Preset
from llama_chat.chat.template import encode_message
from llama_chat.jobs.presets import preset_applied

# Its module fixtures take seconds to build: with -n 2 the module's tests go to one worker
# (--dist loadgroup), which builds them once, rather than each worker building them.
pytestmark = pytest.mark.xdist_group("conversation-overflow")

GREEDY = mlx_model.SamplingParams(temperature=0.0)
LIMIT = 512
SETTINGS = GenerationSettings(sampling=GREEDY, max_tokens=8, context_limit=LIMIT)


@pytest.fixture(scope="module")
def engine(tiny_4bit):
    return mlx_model.load(tiny_4bit)


def new_conversation(engine, messages=None) -> Conversation:
    model, tokenizer = engine
    return Conversation(
        model,
        tokenizer,
        system_prompt="You are terse.",
        settings=SETTINGS,
        date_string="23 Nov 2026",
        messages=messages,
    )


@pytest.fixture(scope="module")
def long_chat(engine):
    """25 turns through a 512-token window: (conversation, per-turn records)."""
    conversation = new_conversation(engine)
    turns = []
    for i in range(25):
        conversation.add_user(f"Turn {i}: please remember the colour number {i} and some words.")
        prompt = conversation.fit_prompt()[0]
        start = conversation.window_start
        finished = conversation.respond(lambda e: None)
        stats = finished.stats
        turns.append((start, prompt, stats.prompt_tokens - stats.cached_tokens))
    return conversation, turns


def test_the_window_start_moves_forward_in_blocks_of_a_third_of_the_context(engine, long_chat):
    conversation, turns = long_chat
    starts = [start for start, _, _ in turns]
    assert starts == sorted(starts)  # only forward
    moves = sorted(set(starts))
    assert len(moves) >= 2, "the chat must have overflowed at least once"
    # Each move drops at least a block (a third of the context) of old messages.
    for before, after in zip(moves, moves[1:], strict=False):
        dropped = sum(
            len(encode_message(engine[1], m.to_template()))
            for m in conversation.messages[before:after]
        )
        assert dropped >= LIMIT * SETTINGS.overflow_block
    # Far fewer moves than overflowing turns: most turns keep the window where it was.
    overflowing = [t for t in turns if t[0] > 0]
    assert len(moves) - 1 < len(overflowing) / 2


def test_a_turn_after_a_drop_prefills_only_its_new_suffix(long_chat):
    _, turns = long_chat
    checked = 0
    for (start, prompt, _), (next_start, next_prompt, prefilled) in zip(
        turns, turns[1:], strict=False
    ):
        if start == 0 or next_start != start:
            continue  # before the first drop, or a turn that moves the window itself
        # The previous prompt starts this one, and the cache holds it: only the rest is read.
        assert next_prompt[: len(prompt)] == prompt
        assert prefilled <= len(next_prompt) - len(prompt)
        checked += 1
    assert checked >= 5


def test_the_window_start_is_kept_with_the_chat(engine, long_chat):
    conversation, turns = long_chat
    last_start, last_prompt, _ = turns[-1]
    # Reopened from its messages alone, the chat's window starts where it did.
    asked = conversation.messages[: conversation.last_user_index() + 1]
    reopened = new_conversation(engine, messages=list(asked))
    assert reopened.fit_prompt()[0] == last_prompt
    assert reopened.window_start == last_start > 0


def test_the_window_never_moves_back_while_the_chat_is_open(engine, long_chat):
    conversation, turns = long_chat
    first_move = next(start for start, _, _ in turns if start > 0)
    # The chat up to the turn before its first drop fits from message 0 ...
    fits_whole = conversation.messages[: first_move + 1]
    chat = new_conversation(engine, messages=list(fits_whole))
    chat.fit_prompt()
    assert chat.window_start == 0
    # ... but once the window moved (a message that no longer fits, then edited shorter),
    # it stays: the cache holds the window from there, and moving back reads it all again.
    chat.window_start = first_move
    ids, dropped = chat.fit_prompt()
    assert chat.window_start == first_move and dropped == 0
    assert ids == chat.encode(first_move)


def test_room_kept_for_the_next_message_starts_the_window_where_it_needs_it(engine, long_chat):
    messages = long_chat[0].messages
    for end in range(2, len(messages), 2):  # a history that ends with an answer ...
        history = new_conversation(engine, messages=messages[:end])
        history.fit_prompt()
        asked = new_conversation(engine, messages=messages[: end + 1])  # ... and its next message
        ids = asked.fit_prompt()[0]
        if asked.window_start > history.window_start:
            break  # the next message moves the window
    else:
        pytest.fail("no message moved the window")
    # Read with room for that message, the window starts where the message needs it ...
    chat = new_conversation(engine, messages=messages[:end])
    chat.fit_prompt(reserve=len(encode_message(engine[1], messages[end].to_template())))
    assert chat.window_start == asked.window_start
    # ... so the message, once sent, moves nothing: its prompt starts with what was read.
    chat.messages.append(messages[end])
    assert chat.fit_prompt() == (ids, 0)
    # Room that no start can give is not kept: the window stays where the history fits.
    again = new_conversation(engine, messages=messages[:end])
    again.fit_prompt(reserve=LIMIT)
    assert again.window_start == history.window_start


def test_more_room_in_the_settings_lets_the_window_start_as_early_as_it_now_fits(engine, long_chat):
    conversation, _ = long_chat
    asked = list(conversation.messages[: conversation.last_user_index() + 1])
    fresh = new_conversation(engine, messages=asked)
    fresh.fit_prompt()  # where the window starts with this chat's settings
    chat = new_conversation(engine, messages=asked)
    chat.use_settings(replace(SETTINGS, max_tokens=LIMIT // 3), None)  # long answers
    chat.fit_prompt()
    assert chat.window_start > fresh.window_start
    warmer = mlx_model.SamplingParams(temperature=0.5)
    chat.use_settings(replace(chat.settings, sampling=warmer), None)
    chat.fit_prompt()
    assert chat.window_start > fresh.window_start  # same room: it stays where the cache holds it
    chat.use_settings(SETTINGS, None)  # short answers again: room for more of the chat
    chat.fit_prompt()
    assert chat.window_start == fresh.window_start


def test_a_preset_turn_that_moved_the_window_leaves_the_chat_its_own(engine, long_chat):
    conversation, _ = long_chat
    asked = conversation.messages[: conversation.last_user_index() + 1]
    chat = new_conversation(engine, messages=list(asked))
    free = LIMIT - SETTINGS.max_tokens - len(chat.fit_prompt()[0])
    own_start = chat.window_start
    # A system prompt longer than the room left: the preset's turn must drop a block.
    longer = chat.system_prompt + " exact" * (free + 10)
    with preset_applied(chat, Preset("long", "Longer.", "{text}", system_prompt=longer)):
        chat.fit_prompt()
        assert chat.window_start > own_start  # its prompt took the room of a block
    assert chat.fit_prompt()[0] == chat.encode(own_start)
