"""Tools the model may call: the call, its result, the registry that checks and runs calls.

Tools run only after the user approved the call: `ToolRegistry.execute` does not ask, the UI
does, guided by `ToolRegistry.needs_approval`. `execute` never raises; every failure becomes an
error result the model reads, so it can correct itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ToolOutput = str | dict[str, Any]


class Approval(StrEnum):
    """The user's answer when asked whether a tool call may run."""

    DENY = "deny"
    ONCE = "once"
    ALWAYS = "always"
    """Run this call, and later calls of the same tool, without asking again."""


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for."""

    name: str
    arguments: dict[str, Any] = field(hash=False)

    def as_dict(self) -> dict[str, Any]:
        """The call as the chat template and the store spell it: the one place that builds it."""
        return {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Read back what `as_dict` wrote (the outer ``type`` may be missing in older rows).

        Raises ValueError naming what is wrong, for a dict that is not a call.
        """
        function = data.get("function") if isinstance(data, Mapping) else None
        if not isinstance(function, Mapping):
            raise ValueError(f"A tool call needs a 'function' object, got {data!r:.80}.")
        name, arguments = function.get("name"), function.get("arguments", {})
        if isinstance(arguments, str):  # OpenAI-style writers store the arguments as JSON text
            arguments = json.loads(arguments)
        if not isinstance(name, str) or not isinstance(arguments, dict):
            raise ValueError(f"A tool call needs a name and an arguments object: {data!r:.80}.")
        return cls(name, arguments)

    def to_message(self) -> dict[str, Any]:
        """The assistant message that records this call, in the chat template's format."""
        return {"role": "assistant", "tool_calls": [self.as_dict()]}


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned (or why it failed), to be shown to the model as an ipython turn."""

    name: str
    content: ToolOutput
    is_error: bool = False

    def to_message(self) -> dict[str, Any]:
        return {"role": "ipython", "content": self.content}


class ToolError(Exception):
    """A failure a tool reports to the model in its own words (bad path, bad expression...)."""


_TOOL_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Tool:
    """A function the model may call.

    `parameters` is a JSON schema of type "object"; `run` gets the checked arguments and returns
    a string or a JSON-serialisable dict, or raises ToolError with a message for the model.
    `requires_approval`: the user is asked before each call (`ToolRegistry.needs_approval`).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], ToolOutput]
    requires_approval: bool = True

    def __post_init__(self) -> None:
        if not _TOOL_NAME.fullmatch(self.name):
            raise ValueError(f"Tool name {self.name!r} must be letters, digits and underscores.")
        if self.parameters.get("type") != "object":
            raise ValueError(
                f"Tool {self.name!r}: parameters must be a JSON schema of type object."
            )

    def spec(self) -> dict[str, Any]:
        """The description the chat template shows the model."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class ToolRegistry:
    """The tools offered to the model, by name."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"A tool named {tool.name!r} is already registered.")
        self._tools[tool.name] = tool

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def needs_approval(self, call: ToolCall) -> bool:
        """Whether the user must say yes before `call` runs: the tool's own
        `requires_approval`, and True for a tool that is not registered (whatever runs it
        then is not ours to vouch for)."""
        tool = self._tools.get(call.name)
        return tool is None or tool.requires_approval

    def specs(self) -> list[dict[str, Any]]:
        """Tool descriptions for `chat_template.render(tools=...)`."""
        return [tool.spec() for tool in self._tools.values()]

    def execute(self, call: ToolCall) -> ToolResult:
        """Run a call the user has approved. Never raises: failures become error results."""
        tool = self._tools.get(call.name)
        if tool is None:
            available = ", ".join(self._tools) or "none"
            return _error(call.name, f"There is no tool named {call.name!r}. Tools: {available}.")
        try:
            arguments = check_arguments(tool.parameters, call.arguments)
            output = tool.run(arguments)
        except ToolError as error:
            return _error(call.name, str(error))
        except Exception as error:  # a tool's bug must not end the chat; the model sees it
            return _error(call.name, f"Tool {call.name!r} failed: {type(error).__name__}: {error}")
        if not isinstance(output, str | dict):
            return _error(call.name, f"Tool {call.name!r} returned {type(output).__name__}.")
        try:
            json.dumps(output)  # the chat template writes results as JSON
        except (TypeError, ValueError) as error:
            return _error(call.name, f"Tool {call.name!r} returned data JSON cannot hold: {error}")
        return ToolResult(call.name, output)


def _error(name: str, message: str) -> ToolResult:
    return ToolResult(name, f"Error: {message}", is_error=True)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def check_arguments(schema: Mapping[str, Any], arguments: Any) -> dict[str, Any]:
    """Arguments checked against a tool's schema (top-level properties, types, enums, required).

    Small models often quote numbers and booleans ("3", "true"); those are converted when the
    schema asks for a number or boolean. Raises ToolError naming the argument at fault.
    """
    if not isinstance(arguments, dict):
        raise ToolError(f"Arguments must be an object, got {type(arguments).__name__}.")
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = schema.get("required", [])
    missing = [name for name in required if name not in arguments]
    if missing:
        raise ToolError(f"Missing required argument(s): {', '.join(missing)}.")
    checked: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None and name in properties and name not in required:
            continue  # models write `"timezone": null` for "not given"
        if name not in properties:
            if schema.get("additionalProperties", False) is True:
                checked[name] = value
                continue
            known = ", ".join(properties) or "none"
            raise ToolError(f"Unknown argument {name!r}. Arguments: {known}.")
        checked[name] = _check_value(name, properties[name], value)
    return checked


def _check_value(name: str, schema: Mapping[str, Any], value: Any) -> Any:
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        for type_name in allowed:
            converted = _as_json_type(type_name, value)
            if converted is not _NO_MATCH:
                value = converted
                break
        else:
            raise ToolError(
                f"Argument {name!r} must be of type {' or '.join(allowed)}, got {value!r}."
            )
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(choice) for choice in schema["enum"])
        raise ToolError(f"Argument {name!r} must be one of {choices}, got {value!r}.")
    return value


_NO_MATCH = object()


def _as_json_type(type_name: str, value: Any) -> Any:
    python_types = _JSON_TYPES.get(type_name)
    if python_types is None:
        return value  # a type this checker does not know: let the tool judge
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, python_types) and not (
        isinstance(value, bool) and bool not in python_types
    ):
        return value
    if isinstance(value, str):
        text = value.strip()
        if type_name == "integer" and re.fullmatch(r"[-+]?\d{1,20}", text):
            return int(text)
        if type_name == "number" and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
            number = float(text)
            return number if math.isfinite(number) else _NO_MATCH
        if type_name == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
    return _NO_MATCH
