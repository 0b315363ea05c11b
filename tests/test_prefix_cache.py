"""New chats: no tool descriptions unless asked for, and their fixed start loaded from disk."""

from __future__ import annotations

import pytest

import mlx_model
from llama_chat.chat.conversation import Conversation, GenerationSettings
from llama_chat.chat.prefix_cache import PrefixCache
from llama_chat.controller import ChatController
from llama_chat.events import TurnStarted
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.kv_files import CacheStore
from llama_chat.tools import default_registry

GREEDY = mlx_model.SamplingParams(temperature=0.0)


@pytest.fixture(scope="module")
def engine(tiny_4bit):
    return mlx_model.load(tiny_4bit)


def new_chat(engine, tools=None) -> Conversation:
    model, tokenizer = engine
    return Conversation(
        model,
        tokenizer,
        system_prompt="You are terse.",
        settings=GenerationSettings(sampling=GREEDY, max_tokens=6, prompt_lookup=False),
        date_string="23 Nov 2026",
        tools=tools,
    )


@pytest.mark.parametrize("with_tools", [False, True])
@pytest.mark.parametrize("text", ["Hello", "42 apples", "...well?", "«Bonjour»", "  spaced  "])
def test_every_prompt_starts_with_the_fixed_start(engine, tmp_path, with_tools, text):
    chat = new_chat(engine, default_registry([tmp_path]) if with_tools else None)
    chat.add_user(text)
    start = chat.fixed_start()
    assert chat.encode()[: len(start)] == start
    assert len(chat.encode()) > len(start)


def test_a_second_new_chat_loads_the_prefix_from_disk(engine, tmp_path):
    files = CacheStore(tmp_path / "kv", 10**9)
    first = new_chat(engine)
    first.add_user("Name a colour.")
    assert PrefixCache(files).prime(first, "tiny", "4bit") is False  # computed, then saved
    assert len(list((tmp_path / "kv").glob("session-prefix-*.safetensors"))) == 1

    second = new_chat(engine)
    second.add_user("Name a colour.")
    assert PrefixCache(files).prime(second, "tiny", "4bit") is True  # read from disk
    prefix = second.fixed_start()
    assert second.cache.tokens == prefix
    prompt = second.encode()
    finished = second.respond(lambda e: None)
    assert finished.stats.prompt_tokens - finished.stats.cached_tokens == len(prompt) - len(prefix)

    # The loaded K/V are the model's own: the answer is the one a full prefill gives.
    fresh = new_chat(engine)
    fresh.add_user("Name a colour.")
    assert fresh.respond(lambda e: None).text == finished.text


def test_a_prefix_saved_for_another_kv_precision_is_not_used(engine, tmp_path):
    files = CacheStore(tmp_path / "kv", 10**9)
    full = new_chat(engine)
    full.add_user("Hi")
    PrefixCache(files).prime(full, "tiny", "4bit")
    eight_bit = new_chat(engine)
    eight_bit.cache = engine[0].make_cache(kv_bits=8)
    eight_bit.add_user("Hi")
    assert PrefixCache(files).prime(eight_bit, "tiny", "4bit") is False
    assert eight_bit.cache.kv_bits == 8


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path))
    return tmp_path


def first_turn(settings: Settings):
    events = []
    controller = ChatController(settings, AppPaths.from_env(), events.append, demo=True)
    assert controller.load_model().result(timeout=120)
    finished = controller.send("Hello there").result(timeout=120)
    session = [e for e in events if isinstance(e, TurnStarted)][-1].session_id
    saved = controller.sessions.get_session(session).settings
    controller.close()
    return finished, saved


def test_a_new_chat_offers_tools_only_when_they_are_turned_on(home):
    assert Settings().tools is False
    plain, plain_saved = first_turn(Settings(max_tokens=4, temperature=0.0))
    tools, tools_saved = first_turn(Settings(max_tokens=4, temperature=0.0, tools=True))
    # The tool descriptions are hundreds of tokens; without them a first prompt is short.
    assert plain.stats.prompt_tokens < 120
    assert tools.stats.prompt_tokens > plain.stats.prompt_tokens + 300
    assert plain_saved["tools"] is False and tools_saved["tools"] is True


def test_new_chats_in_the_app_prefill_only_their_first_message(home):
    settings = Settings(max_tokens=4, temperature=0.0)
    first, _ = first_turn(settings)
    again, _ = first_turn(settings)  # a restart: the prefix comes from the file
    kv_dir = AppPaths.from_env().kv_cache_dir
    assert len(list(kv_dir.glob("session-prefix-*.safetensors"))) == 1
    assert again.stats.cached_tokens == first.stats.cached_tokens > 50
    assert again.stats.prompt_tokens - again.stats.cached_tokens < 20
