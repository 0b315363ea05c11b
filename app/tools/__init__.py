"""Tool calling for Llama 3.2: parsing the model's calls, and the built-in offline tools.

Llama 3.2 Instruct answers a prompt that lists tools (see `app.chat_template`) with a call in
one of a few shapes; `parse_tool_calls` reads them all and treats anything else as prose:

  {"name": "get_weather", "parameters": {"city": "Paris"}}      JSON, as the template asks
  {"name": "a", "parameters": {}}; {"name": "b", "parameters": {}}   several, `;` or newlines
  [get_weather(city="Paris"), calculator(expression="2+2")]      pythonic list (read with ast)
  <function=get_weather>{"city": "Paris"}</function>            Llama 3.1 function tag
  brave_search.call(query="llama")                              Llama 3.1 built-in tool form
  any of these after a leading <|python_tag|>

Bare code after <|python_tag|> (Llama 3.1's code interpreter) is not a call here: this app
offers no code execution.

Tools run only after the user approved the call: `ToolRegistry.execute` does not ask, the UI
does, guided by `Tool.requires_approval`. `execute` never raises; every failure becomes an
error result the model reads, so it can correct itself.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PYTHON_TAG = "<|python_tag|>"
_END_TOKENS = ("<|eot_id|>", "<|eom_id|>")

ToolOutput = str | dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for."""

    name: str
    arguments: dict[str, Any] = field(hash=False)

    def as_dict(self) -> dict[str, Any]:
        """The call in the chat template's form (one entry of a message's ``tool_calls``)."""
        return {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}

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


# ---- parsing -----------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][\w.\-]*")  # what a call may name; unknown names fail later
_TOOL_NAME = re.compile(r"[A-Za-z_]\w*")
_FUNCTION_TAG = re.compile(r"<function=([A-Za-z_][\w.\-]*)>")
_JSON_CALL_KEYS = frozenset({"name", "parameters", "arguments", "type"})
# Errors from reading untrusted text with json/ast; anything of these means "not a call".
_PARSE_ERRORS = (ValueError, SyntaxError, TypeError, RecursionError, MemoryError, OverflowError)


def parse_tool_calls(text: str) -> list[ToolCall]:
    """The tool calls in a whole assistant message, or [] when it is not (only) tool calls.

    A message is a call only if the call is all it holds: JSON quoted in prose or inside a
    Markdown code block is an answer, not a call. Malformed calls give []. Never raises.
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
            return calls
    return []


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


# ---- tools and the registry --------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """A function the model may call.

    `parameters` is a JSON schema of type "object"; `run` gets the checked arguments and returns
    a string or a JSON-serialisable dict, or raises ToolError with a message for the model.
    `requires_approval` tells the UI to ask the user before each call.
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


# ---- built-in tools ----------------------------------------------------------------------------


def default_registry(allowed_folders: Sequence[Path]) -> ToolRegistry:
    """The built-in offline tools; `read_text_file` reads only inside `allowed_folders`."""
    return ToolRegistry(
        [
            datetime_tool(),
            calculator_tool(),
            count_words_tool(),
            read_text_file_tool(allowed_folders),
        ]
    )


def datetime_tool(clock: Callable[[], datetime] | None = None) -> Tool:
    """`get_current_datetime`; `clock` returns an aware datetime (tests pass a fixed one)."""
    now = clock or (lambda: datetime.now(UTC))

    def run(arguments: dict[str, Any]) -> dict[str, Any]:
        zone_name = arguments.get("timezone")
        moment = now()
        if zone_name:
            try:
                local = moment.astimezone(ZoneInfo(zone_name))
            except (ZoneInfoNotFoundError, ValueError, OSError) as error:
                raise ToolError(
                    f"Unknown time zone {zone_name!r}; use an IANA name like 'Europe/Paris'."
                ) from error
        else:
            local = moment.astimezone()  # the computer's own time zone
            zone_name = local.tzname() or "local"
        return {
            "datetime": local.isoformat(timespec="seconds"),
            "weekday": local.strftime("%A"),
            "timezone": zone_name,
        }

    return Tool(
        name="get_current_datetime",
        description="Get the current date, time and weekday, in the user's time zone or another.",
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA time zone such as 'Europe/Paris'; omit for local time.",
                }
            },
            "required": [],
        },
        run=run,
    )


# Integers beyond this many bits are refused: 10,000 bits is about 3,000 digits, plenty for a
# calculator, and far below what would stall the app (Python prints at most 4,300 digits).
MAX_INT_BITS = 10_000
MAX_EXPRESSION_CHARS = 1_000

_BINARY_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY_OPERATORS: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _round(number: Any, digits: Any = None) -> Any:
    # round(5, -10**9) would build 10**(10**9) inside Python.
    if digits is not None and (not isinstance(digits, int) or abs(digits) > 1_000):
        raise ToolError("round() takes a whole number of digits between -1000 and 1000.")
    return round(number, digits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "floor": math.floor,
    "ceil": math.ceil,
    "hypot": math.hypot,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def calculate(expression: str) -> int | float:
    """Evaluate arithmetic with Python's rules, without eval: numbers, + - * / // % **,
    parentheses, pi/e/tau and a few math functions. Raises ToolError on anything else."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"The expression is longer than {MAX_EXPRESSION_CHARS} characters.")
    if "^" in expression:
        raise ToolError("'^' is not supported; write powers with ** (2**10).")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        result = _evaluate(tree.body)
    except SyntaxError as error:
        raise ToolError(f"Cannot read the expression {expression!r}: {error.msg}.") from error
    except ZeroDivisionError as error:
        raise ToolError("Division by zero.") from error
    except (OverflowError, RecursionError, MemoryError) as error:
        raise ToolError("The result is too large.") from error
    except (ValueError, TypeError) as error:
        raise ToolError(f"Cannot compute {expression!r}: {error}.") from error
    if isinstance(result, float) and not math.isfinite(result):
        raise ToolError("The result is too large (not a finite number).")
    return result


def _evaluate(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ToolError(f"Only numbers are allowed, not {node.value!r}.")
        return _bounded(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        _refuse_huge(node.op, left, right)
        return _bounded(_BINARY_OPERATORS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
        return _UNARY_OPERATORS[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        arguments = [_evaluate(argument) for argument in node.args]
        return _bounded(_FUNCTIONS[node.func.id](*arguments))
    allowed = ", ".join(sorted(_FUNCTIONS))
    raise ToolError(
        f"Unsupported in a calculation: {ast.unparse(node)[:60]!r}. Use numbers, + - * / // % **, "
        f"parentheses, pi, e, tau and these functions: {allowed}."
    )


def _refuse_huge(op: ast.operator, left: Any, right: Any) -> None:
    # Checked before computing: 9**9**9 would otherwise run for minutes.
    if not (isinstance(left, int) and isinstance(right, int)):
        return  # float arithmetic overflows quickly and raises OverflowError itself
    if isinstance(op, ast.Pow) and right > 0 and abs(left) > 1:
        bits = right * math.log2(abs(left))
    elif isinstance(op, ast.Mult):
        bits = left.bit_length() + right.bit_length() - 1
    else:
        return
    if bits > MAX_INT_BITS + 1:
        raise ToolError(f"The result would have more than {MAX_INT_BITS} bits; refusing.")


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"The result would have more than {MAX_INT_BITS} bits; refusing.")
    if isinstance(value, complex):  # (-8) ** 0.5 in Python
        raise ToolError("The result is not a real number.")
    return value


def calculator_tool() -> Tool:
    def run(arguments: dict[str, Any]) -> dict[str, Any]:
        expression = arguments["expression"]
        return {"expression": expression, "result": calculate(expression)}

    return Tool(
        name="calculator",
        description=(
            "Evaluate an arithmetic expression exactly: + - * / // % ** and parentheses, "
            "pi, e, and sqrt, log, exp, sin, cos, tan, abs, round, min, max, floor, ceil."
        ),
        parameters={
            "type": "object",
            "properties": {
                "expression": {"type": "string", "description": "For example '(3 + 4) * 2**10'."}
            },
            "required": ["expression"],
        },
        run=run,
    )


def count_words(text: str) -> dict[str, int]:
    """Words (runs of non-whitespace), characters and lines of a text."""
    return {"words": len(text.split()), "characters": len(text), "lines": len(text.splitlines())}


def count_words_tool() -> Tool:
    return Tool(
        name="count_words",
        description="Count the words, characters and lines of a text.",
        parameters={
            "type": "object",
            "properties": {"text": {"type": "string", "description": "The text to count."}},
            "required": ["text"],
        },
        run=lambda arguments: count_words(arguments["text"]),
    )


MAX_FILE_BYTES = 1_000_000


def read_text_file(
    path: str, allowed_folders: Sequence[Path], *, max_bytes: int = MAX_FILE_BYTES
) -> dict[str, Any]:
    """A UTF-8 text file's content, if it lies inside one of `allowed_folders`.

    A relative path is taken from the first allowed folder. The check is made on the path with
    every symlink and `..` resolved, so neither can lead outside. Raises ToolError otherwise.
    """
    roots = [Path(folder).expanduser().resolve() for folder in allowed_folders]
    if not roots:
        raise ToolError("No folders are allowed for reading; the user can allow one in settings.")
    if "\x00" in path:
        raise ToolError("The path contains a NUL character.")
    try:
        requested = Path(path).expanduser()
        if not requested.is_absolute():
            requested = roots[0] / requested
        resolved = requested.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: "~nobody", or a symlink loop
        raise ToolError(f"Cannot resolve {path!r}: {error}") from error
    if not any(resolved.is_relative_to(root) for root in roots):
        folders = ", ".join(str(root) for root in roots)
        raise ToolError(f"{path!r} is outside the folders the user allowed ({folders}).")
    try:
        data = _read_bytes(path, resolved, max_bytes)
    except OSError as error:
        raise ToolError(f"Cannot read {path!r}: {error.strerror or error}.") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ToolError(
            f"{path!r} is not UTF-8 text (invalid byte at offset {error.start}); "
            "only UTF-8 text files can be read."
        ) from error
    if "\x00" in text:
        raise ToolError(f"{path!r} looks like a binary file (it contains NUL bytes).")
    return {"path": str(resolved), "content": text.removeprefix("\ufeff")}


def _read_bytes(path: str, resolved: Path, max_bytes: int) -> bytes:
    if not resolved.exists():
        raise ToolError(f"There is no file {path!r}.")
    if resolved.is_dir():
        raise ToolError(f"{path!r} is a folder, not a file.")
    if not resolved.is_file():
        raise ToolError(f"{path!r} is not a regular file.")  # a FIFO would block the read
    size = resolved.stat().st_size
    if size > max_bytes:
        raise ToolError(f"{path!r} is {size:,} bytes; the limit is {max_bytes:,} bytes.")
    with resolved.open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew after the size check
        raise ToolError(f"{path!r} is larger than {max_bytes:,} bytes.")
    return data


def read_text_file_tool(
    allowed_folders: Sequence[Path], *, max_bytes: int = MAX_FILE_BYTES
) -> Tool:
    folders = list(allowed_folders)
    shown = ", ".join(str(folder) for folder in folders) or "none yet"
    return Tool(
        name="read_text_file",
        description=(
            f"Read a UTF-8 text file (at most {max_bytes:,} bytes) from the folders the user "
            f"allowed: {shown}. Relative paths start in the first folder."
        ),
        parameters={
            "type": "object",
            "properties": {"path": {"type": "string", "description": "File path."}},
            "required": ["path"],
        },
        run=lambda arguments: read_text_file(arguments["path"], folders, max_bytes=max_bytes),
    )
