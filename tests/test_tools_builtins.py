"""The built-in tools: calculator, count_words, get_current_datetime."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llama_chat.tools import (
    MAX_INT_BITS,
    ToolCall,
    ToolError,
    ToolRegistry,
    ToolResult,
    calculate,
    count_words,
    datetime_tool,
    default_registry,
)

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
