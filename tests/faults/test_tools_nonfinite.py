"""Tool calls whose arguments are NaN or infinite are dropped by the parser: the history must
stay JSON, and JSON has no NaN or Infinity. The message's other calls are kept."""

from __future__ import annotations

import json

import pytest

from llama_chat.tools import ToolCall, parse_tool_calls

KEPT = ToolCall("count_words", {"text": "hi"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[calculator(x=1e999), count_words(text='hi')]", [KEPT]),
        ("[calculator(x=-1e999)]", []),
        ("[calculator(x=[1, {'deep': 1e999}]), count_words(text='hi')]", [KEPT]),
        ('{"name": "calculator", "parameters": {"x": 1e999}}; '
         '{"name": "count_words", "parameters": {"text": "hi"}}', [KEPT]),
        ('{"name": "calculator", "parameters": {"x": NaN}}\n'
         '{"name": "count_words", "parameters": {"text": "hi"}}', [KEPT]),
        ('[{"name": "calculator", "parameters": {"x": [-Infinity]}}, '
         '{"name": "count_words", "parameters": {"text": "hi"}}]', [KEPT]),
        ('<function=calculator>{"x": Infinity}</function>'
         '<function=count_words>{"text": "hi"}</function>', [KEPT]),
        ('<|python_tag|>{"name": "calculator", "parameters": {"x": NaN}}', []),
    ],
)  # fmt: skip
def test_non_finite_arguments_drop_only_that_call(text: str, expected: list[ToolCall]) -> None:
    calls = parse_tool_calls(text)
    assert calls == expected
    for call in calls:  # what the history stores is strict JSON
        json.dumps(call.as_dict(), allow_nan=False)


def test_large_finite_numbers_are_still_calls() -> None:
    assert parse_tool_calls("[calculator(x=1e308)]") == [ToolCall("calculator", {"x": 1e308})]
