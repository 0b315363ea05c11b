"""A turn under a preset, in the core: its system prompt and temperature hold for that turn only."""

from __future__ import annotations

import pytest

from llama_chat.chat.presets import Preset
from llama_chat.controller import ChatController
from llama_chat.events import Event, TurnStarted
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings

EDITOR = Preset(
    "tidy",
    "Tidy it",
    "Tidy this up:\n\n{text}",
    system_prompt="You are a meticulous copy editor.",
    temperature=0.9,
)


@pytest.fixture
def home(demo_home):
    return demo_home


class PromptSeen:
    """What the model is asked as each answer starts (read on the engine thread, in order)."""

    def __init__(self) -> None:
        self.controller: ChatController | None = None
        self.prompts: list[tuple[str, float]] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, TurnStarted):
            conversation = self.controller.open_conversation
            text = conversation.tokenizer.decode(conversation.encode())
            self.prompts.append((text, conversation.settings.sampling.temperature))


def make_controller(seen: PromptSeen) -> ChatController:
    settings = Settings(max_tokens=4, temperature=0.0, system_prompt="Be brief.")
    controller = ChatController(settings, AppPaths.from_env(), seen, demo=True)
    seen.controller = controller
    return controller


def test_a_preset_turn_asks_with_its_own_system_prompt_then_the_chat_goes_on_as_before(home):
    seen = PromptSeen()
    controller = make_controller(seen)
    assert controller.load_model().result(timeout=120)
    message = EDITOR.apply("teh cat")
    assert controller.send_with_preset(message, EDITOR).result(timeout=120) is not None
    assert controller.send("Thanks").result(timeout=120) is not None
    (first, first_temperature), (second, second_temperature) = seen.prompts
    assert "meticulous copy editor" in first and "Be brief." not in first
    assert first_temperature == 0.9
    assert "Be brief." in second and "meticulous copy editor" not in second
    assert second_temperature == 0.0
    assert "Tidy this up:\n\nteh cat" in second  # the history keeps what was sent
    session = controller.sessions.list_sessions()[0]
    assert session.system_prompt == "Be brief.", "the chat keeps its own system prompt"
    controller.close()


def test_count_tokens_is_the_tokenizers_count_once_a_model_is_loaded(home):
    controller = make_controller(PromptSeen())
    assert controller.count_tokens("Hello there") is None
    assert controller.load_model().result(timeout=120)
    tokenizer = controller.tokenizer
    text = "Hello there, how are you today?"
    assert controller.count_tokens(text) == len(tokenizer.encode(text)) > 0
    controller.close()
