"""The scrolling list of messages of the open chat."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import VerticalScroll
from textual.widget import Widget

from llama_chat.store.sessions import StoredMessage
from llama_chat.tui.widgets.message import (
    AssistantMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
)


class MessageList(VerticalScroll):
    """Messages, oldest first. Anchored to the bottom while an answer streams, so it follows
    new text until the user scrolls up (Textual releases the anchor then)."""

    can_focus = True

    async def show_stored(self, messages: Iterable[StoredMessage]) -> None:
        """Replace everything with a saved chat's messages."""
        await self.remove_children()
        widgets = [w for m in messages for w in widgets_for(m)]
        if widgets:
            await self.mount_all(widgets)
        self.anchor()  # show the latest messages, also once the layout has settled

    async def add(self, widget: Widget) -> None:
        await self.mount(widget)

    def follow(self) -> None:
        """Stick to the bottom as content grows (until the user scrolls away)."""
        self.anchor()

    def last_user(self) -> UserMessage | None:
        users = self.query_children(UserMessage)
        return users.last() if users else None

    def last_answer(self) -> AssistantMessage | None:
        answers = self.query_children(AssistantMessage)
        return answers.last() if answers else None

    async def remove_after(self, widget: Widget, *, inclusive: bool = False) -> None:
        """Drop ``widget``'s followers (and ``widget`` itself when ``inclusive``)."""
        children = list(self.children)
        start = children.index(widget) + (0 if inclusive else 1)
        doomed = children[start:]
        if doomed:
            await self.remove_children(doomed)


def widgets_for(message: StoredMessage) -> list[Widget]:
    """The widgets that show one saved message (system prompts are not shown)."""
    if message.role == "user":
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
            AssistantMessage(message.content, status=message.status, message_id=message.id)
        )
    return shown
