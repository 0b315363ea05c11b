"""Tool calling for Llama 3.2: parsing the model's calls, and the built-in offline tools.

  parse.py       reading calls out of an assistant message (JSON, pythonic, <|python_tag|>, ...)
  registry.py    ToolCall, ToolResult, Tool, ToolRegistry, Approval, argument checking
  calculator.py  files.py  builtins.py   the built-in tools and `default_registry`

Tools run only after the user approved the call (`ToolRegistry.needs_approval`).
"""

from llama_chat.tools.builtins import (
    count_words,
    count_words_tool,
    datetime_tool,
    default_registry,
)
from llama_chat.tools.calculator import (
    MAX_EXPRESSION_CHARS,
    MAX_INT_BITS,
    calculate,
    calculator_tool,
)
from llama_chat.tools.files import MAX_FILE_BYTES, read_text_file, read_text_file_tool
from llama_chat.tools.parse import PYTHON_TAG, parse_tool_calls
from llama_chat.tools.registry import (
    Approval,
    Tool,
    ToolCall,
    ToolError,
    ToolOutput,
    ToolRegistry,
    ToolResult,
    check_arguments,
)

__all__ = [
    "MAX_EXPRESSION_CHARS",
    "MAX_FILE_BYTES",
    "MAX_INT_BITS",
    "PYTHON_TAG",
    "Approval",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolOutput",
    "ToolRegistry",
    "ToolResult",
    "calculate",
    "calculator_tool",
    "check_arguments",
    "count_words",
    "count_words_tool",
    "datetime_tool",
    "default_registry",
    "parse_tool_calls",
    "read_text_file",
    "read_text_file_tool",
]
