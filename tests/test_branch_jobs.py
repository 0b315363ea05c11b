"""Switching branches in the core: the conversation follows the shown sibling, and the KV cache
is rolled back to the fork instead of being prefilled again."""

from __future__ import annotations

import pytest

from llama_chat.controller import ChatController
from llama_chat.events import BranchSwitched, Notice, TurnFinished
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.sessions import SessionStore


@pytest.fixture
def chat(demo_home) -> tuple[ChatController, list, int]:
    """A saved question with one answer ("Fish 1"), opened in a controller on the demo model."""
    paths = AppPaths.from_env().ensure()
    with SessionStore.open(paths.sessions_db) as store:
        s = store.create_session(system_prompt="Be brief.", settings={}, model="demo", quant="4bit")
        q = store.add_message(s.id, "user", "Name a fish")
        store.add_message(s.id, "assistant", "Fish 1", parent_id=q.id)
    events: list = []
    settings = Settings(max_tokens=6, temperature=0.0)
    controller = ChatController(settings, paths, events.append, demo=True, tools_enabled=False)
    assert controller.load_model().result(timeout=120)
    controller.open_session(s.id).result(timeout=60)
    yield controller, events, s.id
    controller.close()


def test_switching_back_to_the_first_answer_builds_the_next_turn_on_it(chat) -> None:
    controller, events, session_id = chat
    controller.regenerate().result(timeout=120)
    controller.regenerate().result(timeout=120)
    path = controller.sessions.active_path(session_id)
    answers = controller.sessions.siblings(path[-1].id)
    assert len(answers) == 3 and path[-1].id == answers[2].id

    assert controller.switch_branch(answers[2].id, -1).result(timeout=60)
    assert controller.switch_branch(answers[1].id, -1).result(timeout=60)
    switched = [e for e in events if isinstance(e, BranchSwitched)]
    assert [e.selected_id for e in switched] == [answers[1].id, answers[0].id]
    assert [m.content for m in switched[-1].messages] == ["Name a fish", "Fish 1"]
    conversation = controller.open_conversation
    assert conversation.cache.length == switched[-1].cached_tokens  # rolled back at the switch
    # Everything up to the answer's header is kept: the question is not prefilled again.
    fork = conversation._encode_window(0, 1, add_generation_prompt=True)
    assert switched[-1].cached_tokens >= len(fork)

    finished = controller.send("Bigger?").result(timeout=120)
    assert isinstance(finished, TurnFinished)
    prompt = [m["content"] for m in conversation.template_messages()]
    assert prompt[1:4] == ["Name a fish", "Fish 1", "Bigger?"]
    assert len(prompt) == 5  # system, the three above, the new answer: no other branch
    # Only the new suffix (branch 1's answer and the new question) was prefilled.
    assert finished.stats.cached_tokens == switched[-1].cached_tokens
    new_path = controller.sessions.active_path(session_id)
    assert [m.id for m in new_path[:2]] == [path[0].id, answers[0].id]
    assert new_path[2].content == "Bigger?"


def test_there_is_no_branch_past_the_last(chat) -> None:
    controller, events, session_id = chat
    answer = controller.sessions.active_path(session_id)[-1]
    assert controller.switch_branch(answer.id, +1).result(timeout=60) is False
    assert any(isinstance(e, Notice) and "no other branch" in e.message for e in events)
    assert not any(isinstance(e, BranchSwitched) for e in events)
