"""The calculator tool: arithmetic with Python's rules, without eval."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from llama_chat.tools.registry import Tool, ToolError

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
