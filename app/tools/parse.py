"""Reading the model's tool calls out of an assistant message.

Llama 3.2 Instruct answers a prompt that lists tools (see `llama_chat.chat.template`) with a call
in one of a few shapes; `parse_tool_calls` reads them all and treats anything else as prose:

  {"name": "get_weather", "parameters": {"city": "Paris"}}      JSON, as the template asks
  {"name": "a", "parameters": {}}; {"name": "b", "parameters": {}}   several, `;` or newlines
  [get_weather(city="Paris"), calculator(expression="2+2")]      pythonic list (read with ast)
  <function=get_weather>{"city": "Paris"}</function>            Llama 3.1 function tag
  brave_search.call(query="llama")                              Llama 3.1 built-in tool form
  any of these after a leading <|python_tag|>

Bare code after <|python_tag|> (Llama 3.1's code interpreter) is not a call here: this app
offers no code execution.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

from llama_chat.tools.registry import ToolCall

PYTHON_TAG = "<|python_tag|>"
_END_TOKENS = ("<|eot_id|>", "<|eom_id|>")

_NAME = re.compile(r"[A-Za-z_][\w.\-]*")  # what a call may name; unknown names fail later
_FUNCTION_TAG = re.compile(r"<function=([A-Za-z_][\w.\-]*)>")
_JSON_CALL_KEYS = frozenset({"name", "parameters", "arguments", "type"})
# Errors from reading untrusted text with json/ast; anything of these means "not a call".
_PARSE_ERRORS = (ValueError, SyntaxError, TypeError, RecursionError, MemoryError, OverflowError)


def parse_tool_calls(text: str) -> list[ToolCall]:
    """The tool calls in a whole assistant message, or [] when it is not (only) tool calls.

    A message is a call only if the call is all it holds: JSON quoted in prose or inside a
    Markdown code block is an answer, not a call. Malformed calls give []. A call with a NaN or
    infinite argument (`1e999`, JSON `NaN`) is left out. Never raises.
    """
    if not isinstance(text, str):
        return []
    body = text.strip()
    body = body.removeprefix(PYTHON_TAG).strip()
    for end in _END_TOKENS:
        body = body.removesuffix(end).rstrip()
    if not body:
        return []
    for parse in (_parse_pythonic, _parse_json_calls, _parse_function_tags):
        try:
            calls = parse(body)
        except _PARSE_ERRORS:
            calls = None
        if calls:
            # NaN and infinities are not JSON: the history could not be written back. Such a
            # call is dropped; the message's other calls still run.
            return [call for call in calls if _all_finite(call.arguments)]
    return []


def _all_finite(value: Any) -> bool:
    """No NaN or infinite float anywhere in a JSON-like value (walked without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def _parse_pythonic(body: str) -> list[ToolCall] | None:
    """`[f(a=1), g(b="x")]`, or the single built-in form `brave_search.call(query="x")`."""
    if not (body.startswith("[") or body.endswith(")")):
        return None  # cheap reject before building an AST
    node = ast.parse(body, mode="eval").body
    if isinstance(node, ast.List) and node.elts:
        calls = []
        for element in node.elts:
            call = _pythonic_call(element, builtin=False)
            if call is None:
                return None  # one malformed call spoils the list
            calls.append(call)
        return calls
    call = _pythonic_call(node, builtin=True)
    return None if call is None else [call]


def _pythonic_call(node: ast.expr, *, builtin: bool) -> ToolCall | None:
    if not isinstance(node, ast.Call) or node.args:
        return None
    if builtin:
        # Llama 3.1's built-in tools are called as `<tool>.call(query="...")`.
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr == "call"):
            return None
        if not isinstance(func.value, ast.Name):
            return None
        name = func.value.id
    elif isinstance(node.func, ast.Name):
        name = node.func.id
    else:
        return None
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:  # **kwargs
            return None
        arguments[keyword.arg] = _json_literal(keyword.value)
    return ToolCall(name, arguments)


_JSON_NAMES = {"true": True, "false": False, "null": None}


def _json_literal(node: ast.expr) -> Any:
    """A literal that JSON can hold; raises ValueError for anything else (names, calls, sets)."""
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, str | int | float)
    ):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _json_literal(node.operand)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("sign on a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.List | ast.Tuple):
        return [_json_literal(element) for element in node.elts]
    if isinstance(node, ast.Dict):
        result = {}
        for key, value in zip(node.keys, node.values, strict=True):
            key_value = None if key is None else _json_literal(key)
            if not isinstance(key_value, str):
                raise ValueError("dict keys must be strings")
            result[key_value] = _json_literal(value)
        return result
    # Models trained on JSON write true/false/null inside pythonic calls too.
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    raise ValueError(f"not a literal: {ast.dump(node)[:80]}")


def _parse_json_calls(body: str) -> list[ToolCall] | None:
    """One or more JSON call objects separated by `;` or newlines, or a JSON list of them."""
    decoder = json.JSONDecoder()
    calls: list[ToolCall] = []
    position = 0
    while True:
        value, position = decoder.raw_decode(body, position)
        items = value if isinstance(value, list) and value else [value]
        for item in items:
            call = _json_call(item)
            if call is None:
                return None
            calls.append(call)
        separator = re.compile(r"\s*(;?)\s*").match(body, position)
        assert separator is not None  # the pattern matches the empty string
        if separator.end() == len(body):
            return calls
        if not separator.group(1) and "\n" not in separator.group(0):
            return None  # e.g. `{...} and then some prose`
        position = separator.end()


def _json_call(item: Any) -> ToolCall | None:
    if not isinstance(item, dict) or not set(item) <= _JSON_CALL_KEYS:
        return None
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return None
    if "type" in item and item["type"] != "function":
        return None
    if ("parameters" in item) == ("arguments" in item):
        return None  # neither, or both and ambiguous
    arguments = item.get("parameters", item.get("arguments"))
    if not isinstance(arguments, dict):
        return None
    return ToolCall(name, arguments)


def _parse_function_tags(body: str) -> list[ToolCall] | None:
    """`<function=name>{...}</function>`, one or more."""
    decoder = json.JSONDecoder()
    calls: list[ToolCall] = []
    position = 0
    while position < len(body):
        tag = _FUNCTION_TAG.match(body, position)
        if tag is None:
            return None
        arguments, position = decoder.raw_decode(body, tag.end())
        if not isinstance(arguments, dict):
            return None
        calls.append(ToolCall(tag.group(1), arguments))
        closing = re.compile(r"(</function>)?\s*;?\s*").match(body, position)
        assert closing is not None  # the pattern matches the empty string
        position = closing.end()
    return calls
