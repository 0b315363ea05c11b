"""The conversation core on real tiny checkpoints: prompt-cache reuse, budget, tool rounds."""

from __future__ import annotations

import threading

import pytest

import mlx_model
from llama_chat.chat.conversation import MAX_TOOL_ROUNDS, Conversation, GenerationSettings
from llama_chat.chat.template import encode_prompt
from llama_chat.events import ContextTrimmed, TextDelta, ToolCallRequested, ToolResultReady
from llama_chat.tools import default_registry
from tests.scripted import chain_for, make_scripted_checkpoint

# Its module fixtures take seconds to build: with -n 2 the module's tests go to one worker
# (--dist loadgroup), which builds them once, rather than each worker building them.
pytestmark = pytest.mark.xdist_group("conversation")

GREEDY = mlx_model.SamplingParams(temperature=0.0)
DATE = "23 Nov 2026"


@pytest.fixture(scope="module")
def engine(tiny_4bit):
    return mlx_model.load(tiny_4bit)


def new_conversation(engine, **kwargs) -> Conversation:
    model, tokenizer = engine
    settings = kwargs.pop("settings", GenerationSettings(sampling=GREEDY, max_tokens=12))
    return Conversation(
        model,
        tokenizer,
        system_prompt="You are terse.",
        settings=settings,
        date_string=DATE,
        **kwargs,
    )


def test_second_turn_prefills_only_the_new_tokens(engine):
    conversation = new_conversation(engine)
    conversation.add_user("What is a haiku?")
    first = conversation.respond(lambda e: None)
    conversation.add_user("And a limerick?")
    prompt = conversation.encode()
    second = conversation.respond(lambda e: None)
    # Whatever the first turn left in the cache and the new prompt share is not prefilled again.
    assert second.stats.prompt_tokens == len(prompt)
    assert second.stats.cached_tokens >= first.stats.prompt_tokens
    prefilled = second.stats.prompt_tokens - second.stats.cached_tokens
    assert prefilled < len(prompt) // 2


def test_answer_with_reused_cache_equals_answer_from_a_fresh_cache(engine):
    reused = new_conversation(engine)
    reused.add_user("Name three colours.")
    reused.respond(lambda e: None)
    reused.add_user("Now three animals.")
    with_cache = reused.respond(lambda e: None)

    fresh = new_conversation(engine, messages=list(reused.messages[:-1]))
    assert fresh.cache.length == 0
    without_cache = fresh.respond(lambda e: None)
    assert with_cache.stats.cached_tokens > 0 and without_cache.stats.cached_tokens == 0
    assert with_cache.text == without_cache.text


def test_regenerate_rolls_the_cache_back_to_the_user_turn(engine):
    conversation = new_conversation(engine)
    conversation.add_user("Tell me something.")
    first = conversation.respond(lambda e: None)
    conversation.drop_answer()
    prompt = conversation.encode()
    again = conversation.respond(lambda e: None)
    assert again.text == first.text  # greedy: same prompt, same answer
    assert again.stats.cached_tokens == len(prompt) - 1  # only the last prompt token re-run


def test_edit_last_message_reuses_the_prefix_before_it(engine):
    conversation = new_conversation(engine)
    conversation.add_user("First question")
    conversation.respond(lambda e: None)
    conversation.add_user("Second question")
    conversation.respond(lambda e: None)
    conversation.edit_last_user("Second question, edited")
    assert [m.content for m in conversation.messages if m.role == "user"] == [
        "First question",
        "Second question, edited",
    ]
    prompt = conversation.encode()
    finished = conversation.respond(lambda e: None)
    model, tokenizer = engine
    edited_at = prompt.index(tokenizer.encode("Second")[0], 40)
    assert finished.stats.cached_tokens >= edited_at - 1
    assert conversation.cache.tokens[: len(prompt)] == prompt


def test_prompt_is_the_official_template_encoded(engine, tokenizer_model_path):
    from llama_models.llama3.tokenizer import Tokenizer as MetaTokenizer

    conversation = new_conversation(engine)
    conversation.add_user("Hello <|eot_id|> there")
    rendered_ids = conversation.encode()
    meta = MetaTokenizer(tokenizer_model_path)
    model, tokenizer = engine
    expected = encode_prompt(tokenizer, conversation.template_messages(), date_string=DATE)
    assert rendered_ids == expected
    # The typed marker stays text: exactly one eot (closing the system turn) before the user's.
    assert rendered_ids.count(meta.special_tokens["<|eot_id|>"]) == 2


def test_context_budget_drops_oldest_turns_and_says_so(engine):
    settings = GenerationSettings(sampling=GREEDY, max_tokens=8, context_limit=200)
    conversation = new_conversation(engine, settings=settings)
    for i in range(6):
        conversation.add_user(f"Message number {i} with some padding words to use tokens.")
        events = []
        finished = conversation.respond(events.append)
        assert finished.finish_reason in ("stop", "length")
    trims = [e for e in events if isinstance(e, ContextTrimmed)]
    assert conversation.window_start > 0
    assert trims and trims[0].prompt_tokens + settings.max_tokens <= 200
    # System prompt kept; the newest user turn is the last user message the model saw.
    template = conversation.template_messages()
    assert template[0] == {"role": "system", "content": "You are terse."}
    assert template[1]["role"] == "user"
    assert any(m["content"].startswith("Message number 5") for m in template)
    assert len(conversation.encode()) + settings.max_tokens <= 200 + settings.max_tokens


def test_a_message_longer_than_the_context_is_an_error_not_a_crash(engine):
    settings = GenerationSettings(sampling=GREEDY, max_tokens=8, context_limit=64)
    conversation = new_conversation(engine, settings=settings)
    conversation.add_user("word " * 200)
    finished = conversation.respond(lambda e: None)
    assert finished.finish_reason == "error"
    assert "context limit of 64" in finished.error


def test_cancel_keeps_the_partial_answer_marked_stopped(engine):
    settings = GenerationSettings(sampling=GREEDY, max_tokens=500)
    conversation = new_conversation(engine, settings=settings)
    conversation.add_user("Go on forever.")
    cancel = threading.Event()
    seen = []

    def emit(event):
        if isinstance(event, TextDelta):
            seen.append(event.text)
            if len(seen) == 5:
                cancel.set()

    finished = conversation.respond(emit, cancel=cancel)
    assert finished.finish_reason == "cancelled"
    assert finished.stats.generation_tokens <= 6
    assert conversation.messages[-1].status == "stopped"
    assert conversation.messages[-1].content == "".join(seen)


@pytest.fixture(scope="module")
def calculator_engine(tmp_path_factory, tokenizer_model_path):
    tokenizer = mlx_model.Tokenizer.from_tiktoken_file(tokenizer_model_path)
    call = tokenizer.encode('[calculator(expression="6*7")]')
    header_end = tokenizer.encode("\n\n")[0]  # the last token of every assistant header
    path = make_scripted_checkpoint(
        tmp_path_factory.mktemp("scripted"),
        tokenizer_model_path,
        chain_for([*call, tokenizer.eot_id], header_end),
    )
    return mlx_model.load(path)


def test_approved_tool_call_runs_and_its_result_goes_back_as_ipython(calculator_engine, tmp_path):
    asked = []
    conversation = new_conversation(
        calculator_engine,
        tools=default_registry([tmp_path]),
        settings=GenerationSettings(sampling=GREEDY, max_tokens=20),
    )
    conversation.add_user("What is six times seven?")
    events = []
    finished = conversation.respond(events.append, approve=lambda call: asked.append(call) or True)
    assert asked and asked[0].name == "calculator" and asked[0].arguments == {"expression": "6*7"}
    results = [e for e in events if isinstance(e, ToolResultReady)]
    assert results[0].approved and "42" in str(results[0].result.content)
    roles = [m.role for m in conversation.messages]
    assert roles[:3] == ["user", "assistant", "ipython"]
    assert conversation.messages[1].tool_calls[0]["function"]["name"] == "calculator"
    # This scripted model calls the tool every time: the loop must end, bounded.
    assert len([e for e in events if isinstance(e, ToolCallRequested)]) == MAX_TOOL_ROUNDS + 1
    assert finished.finish_reason == "error" and "rounds" in finished.error


def test_declined_tool_call_is_not_run_and_the_model_is_told(calculator_engine, tmp_path):
    conversation = new_conversation(
        calculator_engine,
        tools=default_registry([tmp_path]),
        settings=GenerationSettings(sampling=GREEDY, max_tokens=20),
    )
    conversation.add_user("What is six times seven?")
    events = []
    conversation.respond(events.append, approve=lambda call: False)
    results = [e for e in events if isinstance(e, ToolResultReady)]
    assert results and not any(r.approved for r in results)
    assert all("declined" in str(r.result.content) for r in results)
    assert "42" not in str([m.content for m in conversation.messages])


def test_without_tools_a_call_like_answer_is_plain_text(calculator_engine):
    conversation = new_conversation(
        calculator_engine, settings=GenerationSettings(sampling=GREEDY, max_tokens=20)
    )
    conversation.add_user("What is six times seven?")
    finished = conversation.respond(lambda e: None)
    assert finished.finish_reason == "stop"
    assert finished.text == '[calculator(expression="6*7")]'
