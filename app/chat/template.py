"""Llama 3.2 Instruct prompt rendering, without Jinja.

`render()` produces exactly the text of Meta's official chat template
(`tokenizer_config.json` of meta-llama/Llama-3.2-3B-Instruct) as rendered by Hugging Face
transformers: the system preamble (knowledge cutoff, today's date), the optional tools block,
user/assistant/ipython turns and the generation prompt.

The prompt is built as a list of `Segment`s so that the special tokens the template writes
(`<|start_header_id|>`, `<|eot_id|>`, ...) can be encoded as special tokens while every piece of
message text is encoded as plain text: a user who types "<|eot_id|>" cannot end their own turn.
Because tiktoken splits text at special tokens before applying its pre-tokenizer regex,
encoding segment by segment gives the same ids as encoding the rendered string with special
tokens allowed wherever the template put them.

Message format (the one transformers' `apply_chat_template` takes):
  {"role": "system" | "user" | "assistant", "content": str}
  {"role": "assistant", "tool_calls": [{"type": "function",
                                        "function": {"name": str, "arguments": dict}}]}
  {"role": "ipython" | "tool", "content": str | dict | list}

Quirks of the official template kept on purpose, since the model was trained on them:
- system/user/assistant text is stripped of surrounding whitespace; tool results are not;
- a tool result is written as JSON, so a string result appears in double quotes;
- a tool call's `arguments` are written as JSON, so pass a dict (a JSON string would be quoted);
- `tools=[]` still writes the tools preamble; pass `tools=None` for a chat without tools.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

BEGIN_OF_TEXT = "<|begin_of_text|>"
START_HEADER = "<|start_header_id|>"
END_HEADER = "<|end_header_id|>"
EOT = "<|eot_id|>"

KNOWLEDGE_CUTOFF = "December 2023"

# Month names spelled out rather than strftime("%b"), which follows the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ROLES = frozenset({"system", "user", "assistant", "ipython", "tool"})

_TOOL_INSTRUCTIONS_SYSTEM = (
    "You have access to the following functions. To call a function, please respond with JSON"
    " for a function call."
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and'
    " its value}."
    "Do not use variables.\n\n"
)
_TOOL_INSTRUCTIONS_USER = (
    "Given the following functions, please respond with a JSON for a function call "
    "with its proper arguments that best answers the given prompt.\n\n"
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and'
    " its value}."
    "Do not use variables.\n\n"
)


@dataclass(frozen=True)
class Segment:
    """A piece of the prompt: `special` segments are the name of one special token."""

    text: str
    special: bool


class PromptTokenizer(Protocol):
    """What `encode_prompt` needs from a tokenizer (mlx_model.Tokenizer provides it)."""

    def encode(self, text: str) -> list[int]: ...

    def special(self, name: str) -> int: ...


def format_date(day: date) -> str:
    """The template's date format, "%d %b %Y" in English: "05 Nov 2026"."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


def render(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    date_string: str | None = None,
    tools_in_user_message: bool = True,
) -> str:
    """The prompt text, byte-identical to the official template (leading BOS text included)."""
    segments = render_segments(
        messages,
        tools=tools,
        add_generation_prompt=add_generation_prompt,
        date_string=date_string,
        tools_in_user_message=tools_in_user_message,
    )
    return "".join(segment.text for segment in segments)


def encode_prompt(
    tokenizer: PromptTokenizer,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    date_string: str | None = None,
    tools_in_user_message: bool = True,
) -> list[int]:
    """Prompt token ids: template tokens as specials, all message text as plain text."""
    segments = render_segments(
        messages,
        tools=tools,
        add_generation_prompt=add_generation_prompt,
        date_string=date_string,
        tools_in_user_message=tools_in_user_message,
    )
    return _encode_segments(tokenizer, segments)


def _encode_segments(tokenizer: PromptTokenizer, segments: Sequence[Segment]) -> list[int]:
    ids: list[int] = []
    for segment in segments:
        if segment.special:
            ids.append(tokenizer.special(segment.text))
        else:
            ids.extend(tokenizer.encode(segment.text))
    return ids


def render_segments(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    date_string: str | None = None,
    tools_in_user_message: bool = True,
) -> list[Segment]:
    """The prompt as segments; adjacent text is merged, so each text segment is one BPE span.

    Raises ValueError for conversations the template cannot express: no messages, an unknown
    role, content of the wrong type, several tool calls in one message, or tools to be put in
    the first user message when there is no user message after the system prompt.
    """
    for index, message in enumerate(messages):
        _check_message(index, message)
    if not messages:
        raise ValueError("Cannot render an empty conversation: add at least one message.")
    if date_string is None:
        date_string = format_date(date.today())

    out = _SegmentList()
    out.special(BEGIN_OF_TEXT)

    remaining = list(messages)
    system_message = ""
    if remaining[0]["role"] == "system":
        system_message = _text_content(0, remaining[0]).strip()
        remaining = remaining[1:]

    _header(out, "system")
    if tools is not None:
        out.text("Environment: ipython\n")
    out.text(f"Cutting Knowledge Date: {KNOWLEDGE_CUTOFF}\n")
    out.text(f"Today Date: {date_string}\n\n")
    if tools is not None and not tools_in_user_message:
        out.text(_TOOL_INSTRUCTIONS_SYSTEM)
        _tool_specs(out, tools)
    out.text(system_message)
    out.special(EOT)

    if tools is not None and tools_in_user_message:
        offset = len(messages) - len(remaining)
        if not remaining or remaining[0]["role"] != "user":
            raise ValueError(
                "Cannot put the tool descriptions in the first user message: the conversation "
                "has no user message after the system prompt. Start it with a user message, "
                "or pass tools_in_user_message=False."
            )
        first_user_message = _text_content(offset, remaining[0]).strip()
        remaining = remaining[1:]
        _header(out, "user")
        out.text(_TOOL_INSTRUCTIONS_USER)
        _tool_specs(out, tools)
        out.text(first_user_message)
        out.special(EOT)

    offset = len(messages) - len(remaining)
    for index, message in enumerate(remaining, start=offset):
        _message(out, index, message)

    if add_generation_prompt:
        _header(out, "assistant")
    return out.segments


def encode_fixed_start(
    tokenizer: PromptTokenizer,
    system_prompt: str,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    date_string: str | None = None,
) -> list[int]:
    """The ids every prompt with this system prompt and tools starts with: all that comes before
    the first user message's text (the system turn, the user header and, with tools, the tool
    descriptions the template puts in that message). Its KV cache can be shared by new chats.
    """
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": ""}]
    segments = render_segments(
        messages, tools=tools, add_generation_prompt=False, date_string=date_string
    )
    return _encode_segments(tokenizer, segments[:-1])  # all but the empty message's end


def encode_message(tokenizer: PromptTokenizer, message: Mapping[str, Any]) -> list[int]:
    """The ids of one message after the first, exactly as they appear inside a whole prompt.

    Every such message starts and ends with a special token, so it is encoded on its own: the
    context budget counts each message once instead of re-encoding the history per try.
    """
    _check_message(0, message)
    out = _SegmentList()
    _message(out, 0, message)
    return _encode_segments(tokenizer, out.segments)


def encode_generation_prompt(tokenizer: PromptTokenizer) -> list[int]:
    """The ids that open the assistant's answer at the end of a prompt."""
    out = _SegmentList()
    _header(out, "assistant")
    return _encode_segments(tokenizer, out.segments)


def _message(out: _SegmentList, index: int, message: Mapping[str, Any]) -> None:
    role = message["role"]
    # Same order of tests as the template: a tool call wins over the role.
    if "tool_calls" in message:
        _tool_call(out, index, message)
    elif role in ("ipython", "tool"):
        _header(out, "ipython")
        out.text(_tool_result_text(index, message))
        out.special(EOT)
    else:
        _header(out, role)
        out.text(_text_content(index, message).strip())
        out.special(EOT)


class _SegmentList:
    """Collects segments, merging adjacent text so each text run is encoded as one piece."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def special(self, name: str) -> None:
        self.segments.append(Segment(name, special=True))

    def text(self, text: str) -> None:
        if not text:
            return
        if self.segments and not self.segments[-1].special:
            text = self.segments.pop().text + text
        self.segments.append(Segment(text, special=False))


def _header(out: _SegmentList, role: str) -> None:
    # Every header is followed by "\n\n", which starts the text that comes after it.
    out.special(START_HEADER)
    out.text(role)
    out.special(END_HEADER)
    out.text("\n\n")


def _tool_specs(out: _SegmentList, tools: Sequence[Mapping[str, Any]]) -> None:
    for tool in tools:
        out.text(_to_json(tool, "a tool description", indent=4))
        out.text("\n\n")


def _tool_call(out: _SegmentList, index: int, message: Mapping[str, Any]) -> None:
    tool_calls = message["tool_calls"]
    if not isinstance(tool_calls, Sequence) or len(tool_calls) != 1:
        count = len(tool_calls) if isinstance(tool_calls, Sequence) else tool_calls
        raise ValueError(
            f"Message {index} has tool_calls={count!r}: Llama 3.2 takes exactly one tool call per "
            "assistant message. Put each call in its own assistant message, followed by its result."
        )
    call = tool_calls[0]
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise ValueError(
            f"Message {index}: a tool call must look like "
            '{"type": "function", "function": {"name": str, "arguments": dict}}.'
        )
    if "arguments" not in function:
        raise ValueError(
            f"Message {index}: the tool call to {function['name']!r} has no arguments."
        )
    arguments = _to_json(function["arguments"], f"the arguments of message {index}")
    _header(out, "assistant")
    out.text(f'{{"name": "{function["name"]}", "parameters": {arguments}}}')
    out.special(EOT)


def _tool_result_text(index: int, message: Mapping[str, Any]) -> str:
    if "content" not in message:
        raise ValueError(f"Message {index} (a tool result) has no content.")
    content = message["content"]
    # The template tests `is mapping or is iterable`, which holds for strings too.
    if isinstance(content, str | Mapping | list | tuple):
        return _to_json(content, f"the content of message {index}")
    if content is None or isinstance(content, int | float):
        return str(content)
    raise ValueError(
        f"Message {index} (a tool result) has content of type {type(content).__name__}; "
        "use a string, a dict or a list."
    )


def _text_content(index: int, message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if not isinstance(content, str):
        raise ValueError(
            f"Message {index} ({message['role']}) needs its content as a string, "
            f"got {type(content).__name__}."
        )
    return content


def _check_message(index: int, message: Any) -> None:
    if not isinstance(message, Mapping):
        raise ValueError(f"Message {index} is a {type(message).__name__}, expected a dict.")
    role = message.get("role")
    if role not in _ROLES:
        raise ValueError(
            f"Message {index} has role {role!r}; use one of {', '.join(sorted(_ROLES))}."
        )


def _to_json(value: Any, what: str, indent: int | None = None) -> str:
    # Matches transformers' `tojson` filter: no ASCII escaping, keys in the caller's order.
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Cannot write {what} as JSON: {error}") from error
