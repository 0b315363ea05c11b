"""llama_chat.tools.registry: tools, argument checks, execution, approval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llama_chat.chat.template import render
from llama_chat.tools import (
    Approval,
    Tool,
    ToolCall,
    ToolError,
    ToolRegistry,
    ToolResult,
    default_registry,
)

# ---- registry ----------------------------------------------------------------------------------


def echo_tool(run: Any = None) -> Tool:
    return Tool(
        name="echo",
        description="Echo a word.",
        parameters={
            "type": "object",
            "properties": {
                "word": {"type": "string"},
                "times": {"type": "integer"},
                "loud": {"type": "boolean"},
                "mode": {"type": "string", "enum": ["plain", "fancy"]},
            },
            "required": ["word"],
        },
        run=run or (lambda arguments: {"echo": arguments}),
    )


def test_spec_is_the_function_form() -> None:
    spec = echo_tool().spec()
    assert spec["type"] == "function"
    assert spec["function"]["name"] == "echo"
    assert spec["function"]["parameters"]["required"] == ["word"]


def test_execute_passes_checked_arguments() -> None:
    result = ToolRegistry([echo_tool()]).execute(
        ToolCall("echo", {"word": "hi", "times": "3", "loud": "true", "mode": None})
    )
    assert result == ToolResult("echo", {"echo": {"word": "hi", "times": 3, "loud": True}})
    assert result.to_message() == {"role": "ipython", "content": result.content}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (ToolCall("nope", {}), "no tool named 'nope'. Tools: echo"),
        (ToolCall("echo", {}), "Missing required argument(s): word"),
        (ToolCall("echo", {"word": None}), "'word' must be of type string"),
        (ToolCall("echo", {"word": "x", "colour": "red"}), "Unknown argument 'colour'"),
        (ToolCall("echo", {"word": 3}), "'word' must be of type string"),
        (ToolCall("echo", {"word": "x", "times": 1.5}), "'times' must be of type integer"),
        (ToolCall("echo", {"word": "x", "times": True}), "'times' must be of type integer"),
        (ToolCall("echo", {"word": "x", "mode": "loud"}), "must be one of 'plain', 'fancy'"),
        (ToolCall("echo", ["not", "a", "dict"]), "Arguments must be an object"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_execute_turns_bad_calls_into_error_results(call: ToolCall, message: str) -> None:
    result = ToolRegistry([echo_tool()]).execute(call)
    assert result.is_error
    assert isinstance(result.content, str) and message in result.content


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (lambda arguments: 1 / 0, "Tool 'echo' failed: ZeroDivisionError"),
        (lambda arguments: (_ for _ in ()).throw(ToolError("no such word")), "no such word"),
        (lambda arguments: 42, "returned int"),
        (lambda arguments: {"x": {1, 2}}, "JSON cannot hold"),
    ],
)
def test_execute_never_raises_for_tool_failures(run: Any, message: str) -> None:
    result = ToolRegistry([echo_tool(run)]).execute(ToolCall("echo", {"word": "x"}))
    assert result.is_error and message in str(result.content)


def test_registry_rejects_duplicate_and_badly_named_tools() -> None:
    with pytest.raises(ValueError, match="already registered"):
        ToolRegistry([echo_tool(), echo_tool()])
    with pytest.raises(ValueError, match="letters, digits and underscores"):
        Tool("bad name", "", {"type": "object"}, run=lambda arguments: "")


def test_default_registry_specs_render_in_the_template(tmp_path: Path) -> None:
    registry = default_registry([tmp_path])
    assert registry.names == ["get_current_datetime", "calculator", "count_words", "read_text_file"]
    assert all(tool.requires_approval for tool in registry)
    prompt = render([{"role": "user", "content": "hi"}], tools=registry.specs(), date_string="x")
    for name in registry.names:
        assert f'"name": "{name}"' in prompt


def test_error_results_render_as_ipython_turns() -> None:
    result = ToolRegistry().execute(ToolCall("nope", {}))
    messages = [{"role": "user", "content": "x"}, ToolCall("nope", {}).to_message()]
    prompt = render([*messages, result.to_message()], date_string="x")
    assert '<|start_header_id|>ipython<|end_header_id|>\n\n"Error: There is no tool' in prompt


# ---- one spelling: the call dict, approval -----------------------------------------------------


def test_tool_call_dict_is_the_template_form_and_reads_back() -> None:
    call = ToolCall("calculator", {"expression": "2**10"})
    spelled = {"type": "function", "function": {"name": "calculator", "arguments": call.arguments}}
    assert call.as_dict() == spelled
    assert call.to_message() == {"role": "assistant", "tool_calls": [spelled]}
    assert ToolCall.from_dict(call.as_dict()) == call
    assert ToolCall.from_dict(json.loads(json.dumps(call.as_dict()))) == call


@pytest.mark.parametrize(
    "data",
    [{}, {"function": "calculator"}, {"function": {"arguments": {}}},
     {"function": {"name": "f", "arguments": [1]}}],
)  # fmt: skip
def test_tool_call_from_dict_refuses_what_is_not_a_call(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="A tool call needs"):
        ToolCall.from_dict(data)


def test_needs_approval_reads_the_tool_and_asks_for_unknown_tools() -> None:
    trusted = Tool("clock", "", {"type": "object"}, run=lambda a: "", requires_approval=False)
    registry = ToolRegistry([echo_tool(), trusted])
    assert registry.needs_approval(ToolCall("echo", {"word": "x"}))
    assert not registry.needs_approval(ToolCall("clock", {}))
    assert registry.needs_approval(ToolCall("not_registered", {}))


def test_approval_answers_are_spelled_once() -> None:
    assert [a.value for a in Approval] == ["deny", "once", "always"]
    assert Approval("always") is Approval.ALWAYS
