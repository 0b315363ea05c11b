"""What the message cursor knows of messages: which it stops on, what each is called, which
code block ``b`` copies next, and which answer Ctrl+G continues.

The cursor itself (its keys and the selected message) is the message list's (message_list.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App
from textual.widget import Widget

from llama_chat.status import MessageStatus
from llama_chat.tui.clipboard import copy_text
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from llama_chat.tui.widgets.message_text import (
    CodeBlock,
    code_blocks,
    describe_block,
    message_source,
)

CURSOR_ACTIONS = frozenset(
    {"cursor_move", "cursor_leave", "copy_message", "copy_code", "save_message"}
)
"""Actions that act on the selected message, so only while the cursor is on."""


def selectable(children: Iterable[Widget]) -> list[Widget]:
    """The messages among ``children`` that the cursor can stop on, oldest first."""
    return [w for w in children if w.has_class("message")]


def message_kind(widget: Widget) -> str:
    """What a message is called in notices: "message", "answer" or "tool message"."""
    if isinstance(widget, UserMessage):
        return "message"
    if isinstance(widget, AssistantMessage):
        return "answer"
    return "tool message"


def cut_off_answer(items: list[Widget]) -> AssistantMessage | None:
    """The newest message, when it is an answer cut off at the length limit."""
    newest = items[-1] if items else None
    if isinstance(newest, AssistantMessage) and newest.status == MessageStatus.CUT_OFF:
        return newest
    return None


class CodeTurn:
    """Which code block ``b`` copies: the first of a message, then the next each time."""

    def __init__(self) -> None:
        self._last: tuple[Widget, int] | None = None
        """The message whose code block was copied last, and which one."""

    def next_block(self, message: Widget, blocks: list[CodeBlock]) -> int:
        index = 0
        if self._last is not None and self._last[0] is message:
            index = (self._last[1] + 1) % len(blocks)
        self._last = (message, index)
        return index


def copy_message(app: App, message: Widget) -> None:
    copy_text(app, message_source(message), f"the {message_kind(message)}")


def copy_code_block(app: App, message: Widget, turn: CodeTurn) -> None:
    """Copy ``message``'s first code block, or the one after the last copied of it."""
    blocks = code_blocks(message_source(message))
    if not blocks:
        app.notify(f"This {message_kind(message)} has no code block.", severity="warning")
        return
    index = turn.next_block(message, blocks)
    copy_text(app, blocks[index].code, describe_block(index, blocks))
