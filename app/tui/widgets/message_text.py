"""The text behind a message on screen, as copy and save take it: its Markdown source, and the
code blocks in it (parsed with markdown-it, the parser Textual's Markdown widget uses, so the
blocks found are the ones the user sees)."""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt
from textual.widget import Widget

from llama_chat.tui.widgets.message import (
    AssistantMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
    format_call,
)

_PARSER = MarkdownIt("commonmark")


@dataclass(frozen=True)
class CodeBlock:
    code: str
    language: str  # "" when the fence names none


def message_source(widget: Widget) -> str:
    """The whole text of a message widget: what was typed, the answer's Markdown, the call."""
    if isinstance(widget, UserMessage | AssistantMessage):
        return widget.text
    if isinstance(widget, ToolCallMessage):
        return format_call(widget.call_name, widget.arguments)
    if isinstance(widget, ToolResultMessage):
        return widget.full_text
    return ""


def code_blocks(markdown: str) -> list[CodeBlock]:
    """Every fenced or indented code block, in order (nested in lists and quotes too)."""
    blocks = []
    for token in _PARSER.parse(markdown):
        if token.type in ("fence", "code_block"):
            language = token.info.split()[0] if token.info.strip() else ""
            blocks.append(CodeBlock(token.content.removesuffix("\n"), language))
    return blocks


def describe_block(index: int, blocks: list[CodeBlock]) -> str:
    """How a notification names ``blocks[index]``: "code block 2 of 3 (python)"."""
    name = "code block" if len(blocks) == 1 else f"code block {index + 1} of {len(blocks)}"
    language = blocks[index].language
    return f"{name} ({language})" if language else name
