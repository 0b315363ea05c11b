"""Continuing a cut-off answer: the model goes on from the open partial answer, on the real
engine with a scripted checkpoint (tests/scripted.py) whose greedy output is known."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_chat.chat.continuation import continuation_ids
from llama_chat.chat.template import encode_message, encode_prompt
from llama_chat.controller import ChatController
from llama_chat.events import Notice, TurnFinished, TurnStarted
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.status import MessageStatus
from llama_chat.store.sessions import SessionStore
from tests.scripted import WORDS


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path))
    return tmp_path


def controller_for(
    checkpoint: Path, events: list, max_tokens: int, prompt_lookup: bool = True
) -> ChatController:
    settings = Settings(max_tokens=max_tokens, temperature=0.0, prompt_lookup=prompt_lookup)
    controller = ChatController(
        settings, AppPaths.from_env(), events.append, model_dir=checkpoint, tools_enabled=False
    )
    assert controller.load_model().result(timeout=120)
    return controller


@pytest.mark.parametrize("prompt_lookup", [True, False], ids=["lookup", "plain"])
def test_a_continued_answer_equals_one_uncut_answer_and_stays_one_message(
    home, counting_checkpoint, prompt_lookup
):
    events: list = []
    uncut = controller_for(counting_checkpoint, events, 40, prompt_lookup)
    whole = uncut.send("Count").result(timeout=120)
    uncut.close()
    assert whole.text == WORDS and whole.finish_reason == "stop"

    events = []
    controller = controller_for(counting_checkpoint, events, 4, prompt_lookup)
    first = controller.send("Count").result(timeout=120)
    assert first.finish_reason == "length" and first.text == " one two three four"
    second = controller.continue_answer().result(timeout=120)
    assert (
        second.finish_reason == "length"
        and second.text == " one two three four five six seven eight"
    )
    # The KV cache held the partial answer: only the token sampled last (never fed) is new.
    assert second.stats.prompt_tokens - second.stats.cached_tokens == 1
    third = controller.continue_answer().result(timeout=120)
    assert third.finish_reason == "stop" and third.text == whole.text
    session_id = [e for e in events if isinstance(e, TurnStarted)][-1].session_id
    controller.close()

    store = SessionStore.open(AppPaths.from_env().sessions_db)
    path = store.active_path(session_id)
    assert [(m.role, m.content, m.status) for m in path] == [
        ("user", "Count", MessageStatus.COMPLETE),
        ("assistant", WORDS, MessageStatus.COMPLETE),
    ]
    assert len(store.messages(session_id)) == 2
    store.close()


def test_only_a_cut_off_answer_continues(home, counting_checkpoint):
    events: list = []
    controller = controller_for(counting_checkpoint, events, max_tokens=40)
    controller.send("Count").result(timeout=120)
    assert controller.continue_answer().result(timeout=120) is None
    controller.close()
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert "Only an answer cut off at the length limit can continue." in notices


def test_the_prompt_leaves_the_partial_answer_open(home, counting_checkpoint):
    events: list = []
    controller = controller_for(counting_checkpoint, events, max_tokens=3)
    finished: TurnFinished = controller.send("Count").result(timeout=120)
    conversation = controller.open_conversation
    ids = continuation_ids(conversation)
    controller.close()
    tokenizer = conversation.tokenizer
    head = encode_prompt(
        tokenizer,
        [
            {"role": "system", "content": conversation.system_prompt},
            {"role": "user", "content": "Count"},
        ],
        date_string=conversation.date_string,
    )
    assert ids == head + tokenizer.encode(finished.text)
    assert tokenizer.eot_id not in ids[len(head) :]


def test_the_continued_message_is_counted_again_for_the_context_budget(home, counting_checkpoint):
    controller = controller_for(counting_checkpoint, [], 3)
    controller.send("Count").result(timeout=120)
    conversation = controller.open_conversation
    conversation.fit_prompt()  # counts the partial answer's tokens (and remembers the count)
    controller.continue_answer().result(timeout=120)
    controller.close()
    answer = conversation.messages[-1]
    assert answer.content == " one two three four five six"
    counted = conversation._message_tokens(answer)
    assert counted == len(encode_message(conversation.tokenizer, answer.to_template()))


def test_an_answer_cut_off_before_a_restart_continues_after_it(home, counting_checkpoint):
    events: list = []
    before = controller_for(counting_checkpoint, events, 4)
    before.send("Count").result(timeout=120)
    session_id = [e for e in events if isinstance(e, TurnStarted)][-1].session_id
    before.close()

    after = controller_for(counting_checkpoint, [], 4)
    after.open_session(session_id).result(timeout=60)
    continued = after.continue_answer().result(timeout=120)
    after.close()
    assert continued.text == " one two three four five six seven eight"
    store = SessionStore.open(AppPaths.from_env().sessions_db)
    answer = store.active_path(session_id)[-1]
    assert (answer.content, answer.status) == (continued.text, MessageStatus.CUT_OFF)
    store.close()
