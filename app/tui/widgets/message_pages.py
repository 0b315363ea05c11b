"""The pieces of a saved chat's view: the widgets for one stored message, and the notes that
stand for the messages not mounted yet (above or below the mounted ones)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from llama_chat.status import MessageStatus
from llama_chat.store.documents import StoredDocument
from llama_chat.store.sessions import StoredMessage
from llama_chat.tui.widgets.document_block import DocumentBlock
from llama_chat.tui.widgets.message import (
    AssistantMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
)

FIRST_SCREEN_MESSAGES = 6
"""Saved messages mounted when a chat opens: about a screenful (each Markdown answer is a
tree of widgets, and styling them is what makes opening a chat slow)."""
OLDER_PAGE_MESSAGES = 24
"""Saved messages mounted above the others each time the user scrolls to the top."""

Documents = Mapping[int, StoredDocument]
"""The documents of a chat's messages, by the id of the message carrying each."""


class PageNote(Static):
    """Says how many saved messages are there but not shown yet, next to the shown ones."""

    DEFAULT_CSS = """
    PageNote { color: $text-muted; text-align: center; width: 1fr; }
    """
    WORDS = "{count:,} messages"

    count: reactive[int] = reactive(0)
    """How many saved messages the note stands for."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def render(self) -> str:
        return self.WORDS.format(count=self.count)


class OlderNote(PageNote):
    """Older messages are there, above."""

    WORDS = "↑ {count:,} earlier messages: scroll up to show them"


class NewerNote(PageNote):
    """Newer messages are there, below (after a jump to the start of the chat)."""

    WORDS = "↓ {count:,} later messages: scroll down, or Ctrl+End for the newest"


def widgets_for(message: StoredMessage, documents: Documents) -> list[Widget]:
    """The widgets that show one saved message (system prompts are not shown); ``documents``
    holds the documents of the chat's messages by message id, read with them."""
    if message.role == "user":
        document = documents.get(message.id)
        if document is not None:  # a user message that carries a document shows as its block
            return [DocumentBlock(document)]
        return [UserMessage(message.content, message_id=message.id)]
    if message.role in ("ipython", "tool"):
        return [ToolResultMessage(message.content)]
    if message.role != "assistant":
        return []
    shown: list[Widget] = []
    for call in message.tool_calls or []:
        function = call.get("function", call)
        shown.append(ToolCallMessage(function.get("name", "?"), function.get("arguments", {})))
    if message.content or not message.tool_calls:
        shown.append(
            AssistantMessage(
                message.content, status=MessageStatus(message.status), message_id=message.id
            )
        )
    elif shown:
        shown[0].message_id = message.id  # the call stands for the message
    return shown


def page_widgets(messages: Iterable[StoredMessage], documents: Documents) -> list[Widget]:
    """The widgets that show a page of saved messages, oldest first (see widgets_for)."""
    return [widget for message in messages for widget in widgets_for(message, documents)]


def damage_notice(messages: list[StoredMessage]) -> str | None:
    """What to say of a chat's damaged messages, read as far as possible: which chat and
    message, once (None: none is damaged)."""
    damaged = [m for m in messages if m.damage]
    if not damaged:
        return None
    first = damaged[0]
    return (
        f"Chat {first.session_id} has {len(damaged)} damaged message(s) in the saved "
        f"chats database, shown as far as they could be read (message {first.id}: "
        f"{first.damage[0]})."
    )


async def laid_out(widget: Widget) -> None:
    """Wait until what was just mounted in ``widget`` has been laid out (heights are known)."""
    refreshed = asyncio.Event()
    widget.call_after_refresh(refreshed.set)
    await refreshed.wait()


async def settled(widget: Widget, most: int = 10) -> None:
    """Wait until what was just mounted in ``widget`` is laid out and has stopped growing: an
    answer's Markdown takes a few layouts to reach its height."""
    height = None
    for _ in range(most):
        await laid_out(widget)
        if widget.virtual_size.height == height:
            return
        height = widget.virtual_size.height
