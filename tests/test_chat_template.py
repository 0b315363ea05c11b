"""llama_chat.chat.template against the official Llama 3.2 template rendered by transformers."""

from __future__ import annotations

import copy
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import TemplateError
from llama_models.llama3.tokenizer import Tokenizer as MetaTokenizer
from transformers.utils.chat_template_utils import render_jinja_template

from llama_chat.chat.template import Segment, encode_prompt, format_date, render, render_segments
from mlx_model.testing import LLAMA_3_2_CHAT_TEMPLATE as TEMPLATE  # Meta's, verbatim
from mlx_model.tokenizer import Tokenizer

DATE = "09 Mar 2026"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city. Météo à jour.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate arithmetic.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}


def tool_call(name: str, arguments: object) -> dict:
    return {
        "role": "assistant",
        "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}],
    }


def official(messages: list[dict], **kwargs: object) -> str:
    """The oracle: transformers' own renderer on Meta's template."""
    kwargs.setdefault("add_generation_prompt", True)
    kwargs.setdefault("date_string", DATE)
    rendered, _ = render_jinja_template(
        conversations=[copy.deepcopy(messages)],
        chat_template=TEMPLATE,
        bos_token="<|begin_of_text|>",
        **kwargs,
    )
    return rendered[0]


def ours(messages: list[dict], **kwargs: object) -> str:
    kwargs.setdefault("date_string", DATE)
    return render(messages, **kwargs)


CONVERSATIONS: dict[str, list[dict]] = {
    "user only": [{"role": "user", "content": "Hello!"}],
    "system and user": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
    ],
    "empty system": [{"role": "system", "content": ""}, {"role": "user", "content": "Hi"}],
    "whitespace system": [
        {"role": "system", "content": "  \n\t Be kind.\n\n  "},
        {"role": "user", "content": "\n  padded question?  \n"},
    ],
    "whitespace-only system": [
        {"role": "system", "content": " \n\u3000\u2009"},
        {"role": "user", "content": "x"},
    ],
    "multi-turn": [
        {"role": "system", "content": "You summarise."},
        {"role": "user", "content": "Summarise: the cat sat on the mat."},
        {"role": "assistant", "content": "  A cat sat.  "},
        {"role": "user", "content": "Shorter."},
        {"role": "assistant", "content": "Cat sat."},
        {"role": "user", "content": "Thanks — merci — 谢谢 🙏"},
    ],
    "ends with assistant": [
        {"role": "user", "content": "Say hi"},
        {"role": "assistant", "content": "hi"},
    ],
    "special-looking text": [
        {"role": "user", "content": "What does <|eot_id|> mean? <|start_header_id|>"},
    ],
    "tool round trip": [
        {"role": "system", "content": "Use tools when useful."},
        {"role": "user", "content": "Weather in Zürich?"},
        tool_call("get_weather", {"city": "Zürich", "unit": "celsius"}),
        {"role": "ipython", "content": {"temperature": 21.5, "sky": "dégagé", "ok": True}},
        {"role": "assistant", "content": "It is 21.5 °C and clear."},
        {"role": "user", "content": "And 2**10?"},
    ],
    "nested arguments": [
        {"role": "user", "content": "Plan it"},
        tool_call(
            "plan",
            {"steps": [{"id": 1, "tags": ["a", "ü"]}, {"id": 2, "meta": {"x": None, "y": 1e-7}}]},
        ),
        {"role": "tool", "content": [1, "two", {"three": [3.0]}]},
    ],
    "string tool result": [
        {"role": "user", "content": "Count words"},
        tool_call("count_words", {"text": "a b c"}),
        {"role": "ipython", "content": 'three words, "quoted"\n'},
    ],
    "numeric tool result": [
        {"role": "user", "content": "2+2"},
        tool_call("calculator", {"expression": "2+2"}),
        {"role": "tool", "content": 4},
    ],
    "string arguments": [
        {"role": "user", "content": "x"},
        tool_call("calculator", '{"expression": "1+1"}'),
    ],
}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_matches_official_template_without_tools(name: str, add_generation_prompt: bool) -> None:
    messages = CONVERSATIONS[name]
    assert ours(messages, add_generation_prompt=add_generation_prompt) == official(
        messages, add_generation_prompt=add_generation_prompt
    )


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("tools_in_user_message", [True, False])
def test_matches_official_template_with_tools(name: str, tools_in_user_message: bool) -> None:
    messages = CONVERSATIONS[name]
    tools = [WEATHER, CALCULATOR]
    assert ours(messages, tools=tools, tools_in_user_message=tools_in_user_message) == official(
        messages, tools=tools, tools_in_user_message=tools_in_user_message
    )


def test_empty_tool_list_still_writes_the_tools_preamble() -> None:
    messages = CONVERSATIONS["system and user"]
    text = ours(messages, tools=[])
    assert "Environment: ipython" in text
    assert text == official(messages, tools=[])


def test_default_date_is_today() -> None:
    messages = CONVERSATIONS["user only"]
    assert render(messages) == official(messages, date_string=format_date(date.today()))
    assert f"Today Date: {format_date(date.today())}\n" in render(messages)


@pytest.mark.parametrize(
    ("day", "expected"),
    [(date(2026, 11, 23), "23 Nov 2026"), (date(2024, 7, 5), "05 Jul 2024")],
)
def test_format_date_matches_strftime(day: date, expected: str) -> None:
    assert format_date(day) == expected == day.strftime("%d %b %Y")


def test_segments_keep_template_tokens_apart_from_message_text() -> None:
    segments = render_segments(CONVERSATIONS["special-looking text"], date_string=DATE)
    specials = [s.text for s in segments if s.special]
    assert specials == [
        "<|begin_of_text|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",  # system
        "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",  # user
        "<|start_header_id|>", "<|end_header_id|>",  # generation prompt
    ]  # fmt: skip
    assert Segment("\n\nWhat does <|eot_id|> mean? <|start_header_id|>", special=False) in segments


def test_adjacent_text_is_merged() -> None:
    segments = render_segments(CONVERSATIONS["tool round trip"], tools=[WEATHER], date_string=DATE)
    assert not any(not a.special and not b.special for a, b in pairwise(segments))
    assert "" not in [segment.text for segment in segments]


# ---- errors ------------------------------------------------------------------------------------


def official_error(messages: list[dict], **kwargs: object) -> str:
    with pytest.raises(TemplateError) as raised:
        official(messages, **kwargs)
    return str(raised.value)


def test_two_tool_calls_in_one_message_is_an_error() -> None:
    message = tool_call("a", {})
    message["tool_calls"] = message["tool_calls"] * 2
    messages = [{"role": "user", "content": "x"}, message]
    assert "single tool-calls" in official_error(messages)
    with pytest.raises(ValueError, match="exactly one tool call per assistant message"):
        render(messages)


def test_tools_in_user_message_without_user_message_is_an_error() -> None:
    messages = [{"role": "system", "content": "You help."}]
    assert "no first user message" in official_error(messages, tools=[WEATHER])
    with pytest.raises(ValueError, match="no user message after the system prompt"):
        render(messages, tools=[WEATHER])
    # Tools in the system message need no user message.
    assert ours(messages, tools=[WEATHER], tools_in_user_message=False) == official(
        messages, tools=[WEATHER], tools_in_user_message=False
    )


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([], "empty conversation"),
        ([{"role": "robot", "content": "x"}], "role 'robot'"),
        ([{"content": "x"}], "role None"),
        (["hello"], "Message 0 is a str"),
        ([{"role": "user", "content": ["parts"]}], r"Message 0 \(user\) needs its content"),
        ([{"role": "user", "content": "x"}, {"role": "tool"}], "Message 1 .* has no content"),
        ([{"role": "user", "content": "x"}, tool_call("f", {"x": {1, 2}})], "as JSON"),
        ([{"role": "user", "content": "x"}, tool_call("f", {"x": 1}) | {"tool_calls": []}],
         "exactly one tool call"),
    ],
)  # fmt: skip
def test_invalid_conversations_raise_value_error(messages: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        render(messages)


# ---- tokens ------------------------------------------------------------------------------------


class MetaAdapter:
    """Meta's tokenizer behind the two methods encode_prompt uses; message text never special."""

    def __init__(self, meta: MetaTokenizer) -> None:
        self.meta = meta

    def encode(self, text: str) -> list[int]:
        return self.meta.encode(text, bos=False, eos=False, allowed_special=set())

    def special(self, name: str) -> int:
        return self.meta.special_tokens[name]


@pytest.fixture(scope="module")
def meta(tokenizer_model_path: Path) -> MetaTokenizer:
    return MetaTokenizer(tokenizer_model_path)


@pytest.mark.parametrize("name", sorted(set(CONVERSATIONS) - {"special-looking text"}))
@pytest.mark.parametrize("with_tools", [False, True])
def test_segment_encoding_equals_whole_string_encoding(
    meta: MetaTokenizer, name: str, with_tools: bool
) -> None:
    tools = [WEATHER, CALCULATOR] if with_tools else None
    messages = CONVERSATIONS[name]
    whole = meta.encode(ours(messages, tools=tools), bos=False, eos=False, allowed_special="all")
    assert encode_prompt(MetaAdapter(meta), messages, tools=tools, date_string=DATE) == whole
    assert whole[0] == meta.special_tokens["<|begin_of_text|>"]


def test_project_tokenizer_gives_the_same_prompt_ids(
    meta: MetaTokenizer, tokenizer_model_path: Path
) -> None:
    tokenizer = Tokenizer.from_tiktoken_file(tokenizer_model_path)
    messages = CONVERSATIONS["tool round trip"] + CONVERSATIONS["special-looking text"]
    kwargs = {"tools": [WEATHER], "date_string": DATE}
    assert encode_prompt(tokenizer, messages, **kwargs) == encode_prompt(
        MetaAdapter(meta), messages, **kwargs
    )


def test_user_text_never_becomes_a_special_token(meta: MetaTokenizer) -> None:
    messages = CONVERSATIONS["special-looking text"]
    ids = encode_prompt(MetaAdapter(meta), messages, date_string=DATE)
    eot = meta.special_tokens["<|eot_id|>"]
    start = meta.special_tokens["<|start_header_id|>"]
    assert ids.count(eot) == 2  # system and user turns; the typed one stays text
    assert ids.count(start) == 3
    assert meta.decode(ids) == ours(messages)


# ---- random text -------------------------------------------------------------------------------

# Whitespace of every kind, text that looks like template syntax, and arbitrary Unicode.
message_text = st.text(
    alphabet=st.one_of(
        st.sampled_from([" ", "\n", "\t", "\r", "\u00a0", "\u3000", "{", "}", "%", '"', "\\"]),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=40,
)
turn = st.tuples(st.sampled_from(["user", "assistant"]), message_text).map(
    lambda pair: {"role": pair[0], "content": pair[1]}
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | message_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(message_text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    system=st.none() | message_text,
    first=message_text,
    turns=st.lists(turn, max_size=4),
    result=json_value,
    with_tools=st.booleans(),
    add_generation_prompt=st.booleans(),
)
def test_random_conversations_match_official_template(
    system: str | None,
    first: str,
    turns: list[dict],
    result: object,
    with_tools: bool,
    add_generation_prompt: bool,
) -> None:
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages += [{"role": "user", "content": first}, *turns]
    messages += [
        tool_call("lookup", {"query": first, "n": 3}),
        {"role": "ipython", "content": result},
    ]
    kwargs = {
        "tools": [WEATHER] if with_tools else None,
        "add_generation_prompt": add_generation_prompt,
    }
    assert ours(messages, **kwargs) == official(messages, **kwargs)
