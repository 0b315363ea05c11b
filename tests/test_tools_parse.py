"""llama_chat.tools.parse: reading the model's tool calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_models.llama3.tool_utils import ToolUtils

from llama_chat.chat.template import render
from llama_chat.tools import (
    ToolCall,
    parse_tool_calls,
)

# ---- parsing -----------------------------------------------------------------------------------

WEATHER_JSON = '{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}'

PARSE_CASES: list[tuple[str, list[ToolCall]]] = [
    (WEATHER_JSON, [ToolCall("get_weather", {"city": "Paris", "days": 3})]),
    ("  \n" + WEATHER_JSON + "\n", [ToolCall("get_weather", {"city": "Paris", "days": 3})]),
    ("<|python_tag|>" + WEATHER_JSON, [ToolCall("get_weather", {"city": "Paris", "days": 3})]),
    (WEATHER_JSON + "<|eot_id|>", [ToolCall("get_weather", {"city": "Paris", "days": 3})]),
    ('{"type": "function", "name": "f", "parameters": {}}', [ToolCall("f", {})]),
    ('{"name": "f", "arguments": {"x": [1, {"y": null}]}}',
     [ToolCall("f", {"x": [1, {"y": None}]})]),
    ('{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"n": 1}}',
     [ToolCall("a", {}), ToolCall("b", {"n": 1})]),
    ('{"name": "a", "parameters": {}}\n{"name": "b", "parameters": {}};',
     [ToolCall("a", {}), ToolCall("b", {})]),
    ('[{"name": "a", "parameters": {}}, {"name": "b", "parameters": {}}]',
     [ToolCall("a", {}), ToolCall("b", {})]),
    ('[get_weather(city="Paris")]', [ToolCall("get_weather", {"city": "Paris"})]),
    ("[f(x=1, y=-2.5, z=[1, 'a'], w={'k': (1, 2)}), g()]",
     [ToolCall("f", {"x": 1, "y": -2.5, "z": [1, "a"], "w": {"k": [1, 2]}}), ToolCall("g", {})]),
    ("[f(flag=true, other=null, no=False)]", [ToolCall("f", {"flag": True, "other": None,
                                                              "no": False})]),
    ("<|python_tag|>[calculator(expression='2**10')]",
     [ToolCall("calculator", {"expression": "2**10"})]),
    ('brave_search.call(query="llama 3.2")', [ToolCall("brave_search", {"query": "llama 3.2"})]),
    ('<function=get_weather>{"city": "Zürich"}</function>',
     [ToolCall("get_weather", {"city": "Zürich"})]),
    ('<function=a>{}</function><function=b>{"x": 1}</function>',
     [ToolCall("a", {}), ToolCall("b", {"x": 1})]),
    # Not calls: prose, quoted JSON, code blocks, and calls that are malformed.
    ("The weather in Paris is sunny.", []),
    ("", []),
    ("<|python_tag|>", []),
    ("Sure! " + WEATHER_JSON, []),
    (WEATHER_JSON + " Let me know if that helps.", []),
    ("```json\n" + WEATHER_JSON + "\n```", []),
    ('{"name": "Alice", "age": 30}', []),
    ('{"name": "f"}', []),
    ('{"name": "f", "parameters": "city=Paris"}', []),
    ('{"name": "f", "parameters": {}, "arguments": {}}', []),
    ('{"name": "", "parameters": {}}', []),
    ('{"name": "two words", "parameters": {}}', []),
    ('{"type": "object", "name": "f", "parameters": {}}', []),
    ('{"name": "f", "parameters": {}} {"name": "g", "parameters": {}}', []),
    ('{"name": "f", "parameters": {}', []),
    ("[1, 2, 3]", []),
    ("[]", []),
    ("[f(1)]", []),
    ("[f(**kw)]", []),
    ("[f(x=g())]", []),
    ("[f(x=os.system('ls'))]", []),
    ("[f(x={1, 2})]", []),
    ("[f(x=b'bytes')]", []),
    ("[obj.method(x=1)]", []),
    ("[f(x=1)] and more", []),
    ("print(x=1)", []),
    ("brave_search.run(query='x')", []),
    ('"just a string"', []),
    ("42", []),
    ("<function=f>not json</function>", []),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_tool_calls(text: str, expected: list[ToolCall]) -> None:
    assert parse_tool_calls(text) == expected


def meta_tool_call(text: str) -> tuple[str, dict] | None:
    """Meta's reading of an assistant message, as llama_models' ChatFormat decodes it."""
    content = text.strip(" ").removeprefix("<|python_tag|>")
    custom = ToolUtils.maybe_extract_custom_tool_call(content)
    if custom is not None:
        return custom
    builtin = ToolUtils.maybe_extract_builtin_tool_call(content)
    return None if builtin is None else (builtin[0], {"query": builtin[1]})


# Messages both parsers read: Meta's returns only the first call of a pythonic list.
AGREEMENT_CASES = [
    WEATHER_JSON,
    "<|python_tag|>" + WEATHER_JSON,
    '{"type": "function", "name": "f", "parameters": {"nested": {"a": [1, 2]}}}',
    '[get_weather(city="Paris", days=3)]',
    "[f(x=1), g(y='two')]",
    '<function=get_weather>{"city": "Paris", "days": 3}</function>',
    '<|python_tag|>brave_search.call(query="llama 3.2 release")',
    'wolfram_alpha.call(query="integrate x^2")',
    "The answer is 42.",
    "```json\n" + WEATHER_JSON + "\n```",
    '{"temperature": 21}',
    "[1, 2]",
    "[f(1)]",
]


@pytest.mark.parametrize("text", AGREEMENT_CASES)
def test_parse_agrees_with_llama_models(text: str) -> None:
    calls = parse_tool_calls(text)
    theirs = meta_tool_call(text)
    if theirs is None:
        assert calls == []
    else:
        assert calls and (calls[0].name, calls[0].arguments) == theirs


def test_parse_reads_what_the_chat_template_writes() -> None:
    call = ToolCall("get_weather", {"city": "Zürich", "when": {"days": [1, 2]}, "hot": None})
    messages = [{"role": "user", "content": "x"}, call.to_message()]
    prompt = render(messages, add_generation_prompt=False, date_string="x")
    written = prompt.split("<|end_header_id|>\n\n")[-1].removesuffix("<|eot_id|>")
    assert parse_tool_calls(written) == [call]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
# Round trips need finite numbers: a call with NaN or an infinity is dropped (see tests/faults).
finite_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
near_calls = st.one_of(
    st.text(max_size=80),
    st.builds(json.dumps, st.dictionaries(st.sampled_from(["name", "parameters"]), json_values)),
    st.lists(st.sampled_from(['{"', '"name"', ":", '"f"', "[", "]", "(", ")", "=", ",", "{", "}",
                              ";", "\n", "x", "1", "'", "<|python_tag|>", "<function=", "true",
                              "**", ".call", "..."]), max_size=30).map("".join),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(text=near_calls)
def test_parse_never_raises(text: str) -> None:
    calls = parse_tool_calls(text)
    assert isinstance(calls, list)
    assert all(isinstance(call, ToolCall) and isinstance(call.arguments, dict) for call in calls)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[f(x=" + "[" * 5_000 + "]" * 5_000 + ")]",
        '{"name": "f", "parameters": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "[f(x=" + "9" * 10_000 + ")]",
        "\x00[f(x=1)]",
    ],
    ids=["open-brackets", "deep-argument", "deep-json", "huge-int", "nul"],
)
def test_parse_survives_hostile_input(text: str) -> None:
    assert parse_tool_calls(text) == []


@settings(max_examples=100, deadline=None)
@given(
    name=st.from_regex(r"[A-Za-z_]\w{0,10}", fullmatch=True),
    arguments=st.dictionaries(st.text(max_size=6), finite_json_values, max_size=4),
)
def test_parse_round_trips_json_calls(name: str, arguments: dict[str, Any]) -> None:
    text = json.dumps({"name": name, "parameters": arguments}, ensure_ascii=False)
    calls = parse_tool_calls(text)
    assert len(calls) == 1 and calls[0].name == name
    assert json.dumps(calls[0].arguments) == json.dumps(arguments)
