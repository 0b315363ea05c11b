"""llama_chat.tools: parsing the model's tool calls, the registry, and the built-in tools."""

from __future__ import annotations

import json
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_models.llama3.tool_utils import ToolUtils

from llama_chat.chat.template import render
from llama_chat.tools import (
    MAX_INT_BITS,
    Tool,
    ToolCall,
    ToolError,
    ToolRegistry,
    ToolResult,
    calculate,
    count_words,
    datetime_tool,
    default_registry,
    parse_tool_calls,
    read_text_file,
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
    arguments=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
)
def test_parse_round_trips_json_calls(name: str, arguments: dict[str, Any]) -> None:
    text = json.dumps({"name": name, "parameters": arguments}, ensure_ascii=False)
    calls = parse_tool_calls(text)
    assert len(calls) == 1 and calls[0].name == name
    # NaN != NaN, so compare the JSON forms.
    assert json.dumps(calls[0].arguments) == json.dumps(arguments)


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


# ---- calculator --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("-2 ** 2", -4),
        ("2 ** -1", 0.5),
        ("7 // 2 + 7 % 2", 4),
        ("-7 // 2", -4),
        ("1 / 3", 1 / 3),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 2)", 3.14),
        ("max(1, 2.5, 2)", 2.5),
        ("log(e)", 1.0),
        ("2 ** 9999", 2**9999),
        ("10 ** 3000 // 10 ** 2999", 10),
    ],
)
def test_calculate(expression: str, expected: float) -> None:
    result = calculate(expression)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "Division by zero"),
        ("9 ** 9 ** 9", f"more than {MAX_INT_BITS} bits"),
        ("2 ** 10000", f"more than {MAX_INT_BITS} bits"),
        ("(2 ** 6000) * (2 ** 6000)", f"more than {MAX_INT_BITS} bits"),
        ("10.0 ** 400", "too large"),
        ("1e308 * 10", "not a finite number"),
        ("(-8) ** 0.5", "not a real number"),
        ("2 ^ 10", "write powers with **"),
        ("__import__('os')", "Unsupported in a calculation"),
        ("x + 1", "Unsupported in a calculation"),
        ("'a' * 3", "Only numbers"),
        ("True + 1", "Only numbers"),
        ("1 if 1 else 2", "Unsupported in a calculation"),
        ("(1).__class__", "Unsupported in a calculation"),
        ("round(5, -10 ** 9)", "between -1000 and 1000"),
        ("sqrt(-1)", "math domain error"),
        ("2 +", "Cannot read the expression"),
        ("1" * 2000, "longer than"),
        ("(" * 400 + "1" + ")" * 400, "Cannot read the expression"),
    ],
    ids=lambda value: value[:30],
)
def test_calculate_refuses(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=re.escape(message)):
        calculate(expression)


def number_literal(value: float) -> str:
    return f"({value!r})"


leaf = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
).map(number_literal)


def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%"]), children)
    power = st.tuples(children, st.just("**"), st.integers(0, 3).map(str))
    return st.one_of(
        st.one_of(binary, power).map(lambda parts: f"({parts[0]} {parts[1]} {parts[2]})"),
        children.map(lambda child: f"-{child}"),
    )


expressions = st.recursive(leaf, combine, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(expression=expressions)
def test_calculate_agrees_with_python(expression: str) -> None:
    try:
        expected = eval(expression, {"__builtins__": {}})  # the oracle: Python itself
    except (ZeroDivisionError, OverflowError):
        expected = None
    if expected is None or (isinstance(expected, float) and not math.isfinite(expected)):
        with pytest.raises(ToolError):
            calculate(expression)
    else:
        result = calculate(expression)
        assert result == expected and type(result) is type(expected)


def test_calculator_tool_reports_expression_and_result() -> None:
    registry = default_registry([])
    result = registry.execute(ToolCall("calculator", {"expression": "6 * 7"}))
    assert result == ToolResult("calculator", {"expression": "6 * 7", "result": 42})


# ---- other built-ins ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "lines"),
    [("", 0, 0), ("one", 1, 1), ("two words\nand more\n", 4, 2), ("  \n\n  ", 0, 3),
     ("naïve café 東京", 3, 1)],
)  # fmt: skip
def test_count_words(text: str, words: int, lines: int) -> None:
    assert count_words(text) == {"words": words, "characters": len(text), "lines": lines}


FIXED_NOW = datetime(2026, 3, 9, 13, 5, 0, tzinfo=UTC)


def test_datetime_in_a_named_time_zone() -> None:
    tool = datetime_tool(clock=lambda: FIXED_NOW)
    result = ToolRegistry([tool]).execute(
        ToolCall("get_current_datetime", {"timezone": "Europe/Paris"})
    )
    assert result.content == {
        "datetime": "2026-03-09T14:05:00+01:00",
        "weekday": "Monday",
        "timezone": "Europe/Paris",
    }


def test_datetime_without_time_zone_is_local() -> None:
    tool = datetime_tool(clock=lambda: FIXED_NOW)
    content = ToolRegistry([tool]).execute(ToolCall("get_current_datetime", {})).content
    assert isinstance(content, dict)
    assert datetime.fromisoformat(content["datetime"]) == FIXED_NOW


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime"])
def test_datetime_unknown_time_zone_is_an_error(zone: str) -> None:
    result = ToolRegistry([datetime_tool()]).execute(
        ToolCall("get_current_datetime", {"timezone": zone})
    )
    assert result.is_error and "Unknown time zone" in str(result.content)


# ---- read_text_file ----------------------------------------------------------------------------


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    (allowed / "notes.txt").write_text("Bonjour, été ☀\n", encoding="utf-8")
    (allowed / "sub" / "deep.md").write_text("# deep", encoding="utf-8")
    (outside / "secret.txt").write_text("secret", encoding="utf-8")
    return allowed, outside


@pytest.mark.parametrize("path", ["notes.txt", "./sub/../notes.txt", "{allowed}/notes.txt"])
def test_read_text_file_inside_allowed_folder(folders: tuple[Path, Path], path: str) -> None:
    allowed, _ = folders
    result = read_text_file(path.format(allowed=allowed), [allowed])
    assert result == {"path": str((allowed / "notes.txt").resolve()), "content": "Bonjour, été ☀\n"}


def test_read_text_file_second_allowed_folder(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    result = read_text_file(str(outside / "secret.txt"), [allowed, outside])
    assert result["content"] == "secret"


@pytest.mark.parametrize(
    "path",
    ["../outside/secret.txt", "sub/../../outside/secret.txt", "{outside}/secret.txt", "/etc/passwd",
     "~/.ssh/id_rsa", "link_out/secret.txt", "secret_link.txt"],
)  # fmt: skip
def test_read_text_file_refuses_paths_outside(folders: tuple[Path, Path], path: str) -> None:
    allowed, outside = folders
    (allowed / "link_out").symlink_to(outside, target_is_directory=True)
    (allowed / "secret_link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(ToolError, match="outside the folders the user allowed"):
        read_text_file(path.format(outside=outside), [allowed])


def test_symlink_inside_allowed_folder_is_followed(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    (allowed / "alias.txt").symlink_to(allowed / "sub" / "deep.md")
    assert read_text_file("alias.txt", [allowed])["content"] == "# deep"


@pytest.mark.parametrize(
    ("setup", "path", "message"),
    [
        (None, "missing.txt", "There is no file"),
        (None, "sub", "is a folder"),
        (None, "~no_such_user_0x5f3759df/notes.txt", "Cannot resolve"),
        (lambda d: (d / "big.txt").write_bytes(b"x" * 101), "big.txt", "the limit is 100 bytes"),
        (lambda d: (d / "latin1.txt").write_bytes("café".encode("latin-1")), "latin1.txt",
         r"not UTF-8 text \(invalid byte at offset 3\)"),
        (lambda d: (d / "bin.dat").write_bytes(b"ab\x00cd"), "bin.dat", "binary file"),
        (lambda d: os.mkfifo(d / "pipe"), "pipe", "not a regular file"),
        (lambda d: (d / "loop").symlink_to(d / "loop"), "loop", "Cannot resolve|There is no file"),
    ],
)  # fmt: skip
def test_read_text_file_errors(
    folders: tuple[Path, Path], setup: Any, path: str, message: str
) -> None:
    allowed, _ = folders
    if setup is not None:
        setup(allowed)
    with pytest.raises(ToolError, match=message):
        read_text_file(path, [allowed], max_bytes=100)


def test_read_text_file_with_no_allowed_folder() -> None:
    result = default_registry([]).execute(ToolCall("read_text_file", {"path": "notes.txt"}))
    assert result.is_error and "No folders are allowed" in str(result.content)


def test_read_text_file_strips_byte_order_mark(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    (allowed / "bom.txt").write_bytes("\ufeffhello".encode())
    assert read_text_file("bom.txt", [allowed])["content"] == "hello"
