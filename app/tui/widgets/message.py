"""One chat message on screen: the user's text, an answer, a tool call or a tool result."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from llama_chat.status import MessageStatus
from llama_chat.tools import ToolCall

STATUS_NOTES: dict[MessageStatus, str] = {
    MessageStatus.STOPPED: "■ stopped",
    MessageStatus.CUT_OFF: "cut off at the answer length limit",
    MessageStatus.ERROR: "error",
    MessageStatus.INTERRUPTED: "interrupted: the app closed mid-answer",
}
"""What the border of an unfinished answer says, by status (live and reloaded alike)."""

RESULT_PREVIEW_CHARS = 240


class UserMessage(Static):
    """What the user typed, shown literally: no console markup, no Markdown."""

    def __init__(self, text: str, *, message_id: int | None = None) -> None:
        super().__init__(Text(text), classes="message user")
        self.text = text
        self.message_id = message_id
        self.border_title = "You"


class AssistantMessage(Vertical):
    """An answer rendered as Markdown; streams in, then gets one full render when complete.

    Textual's Markdown stream renders fragments as they come but can leave a code block blank
    when a fence is split across fragments, hence the final ``update`` with the whole text.
    """

    def __init__(
        self,
        text: str = "",
        *,
        status: MessageStatus = MessageStatus.COMPLETE,
        message_id: int | None = None,
    ) -> None:
        # The status class is set before mounting: changing a class later restyles the whole
        # Markdown tree, which made opening a saved chat slow.
        super().__init__(classes=f"message assistant {_status_class(status)}")
        self.text = text
        self.status = status
        self.message_id = message_id
        self.border_title = "Assistant"
        self.border_subtitle = STATUS_NOTES.get(status, "")
        self._stream: MarkdownStream | None = None
        self._markdown = Markdown(text)
        self._detail = Static("", classes="message-detail")
        self._detail.display = False

    def compose(self) -> ComposeResult:
        yield self._markdown
        yield self._detail

    @property
    def streaming(self) -> bool:
        return self.status == MessageStatus.STREAMING

    async def append(self, delta: str) -> None:
        """Add a fragment of the answer as it is generated."""
        if self._stream is None:
            self._stream = Markdown.get_stream(self._markdown)
            self.set_status(MessageStatus.STREAMING)
        self.text += delta
        await self._stream.write(delta)

    async def finish(self, text: str, status: MessageStatus, detail: str | None = None) -> None:
        """End the stream and render the whole answer once."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.text = text
        await self._markdown.update(text)
        self.set_status(status, detail)

    def set_status(self, status: MessageStatus, detail: str | None = None) -> None:
        if status != self.status:
            self.remove_class(_status_class(self.status))
            self.add_class(_status_class(status))
        self.status = status
        self.border_subtitle = STATUS_NOTES.get(status, "")
        self._detail.update(Text(detail or ""))
        self._detail.display = bool(detail)


class ToolCallMessage(Static):
    """A tool call the model asked for, in one line: ``name(arg=value, ...)``."""

    def __init__(self, name: str, arguments: dict[str, Any]) -> None:
        super().__init__(
            Text.assemble(("⚙ ", "bold"), format_call(name, arguments)), classes="message tool-call"
        )
        self.call_name = name
        self.arguments = arguments
        self.message_id: int | None = None
        """The saved message, when the call is all it shows (a branch may start there)."""

    @classmethod
    def from_call(cls, call: ToolCall) -> ToolCallMessage:
        return cls(call.name, call.arguments)


class ToolResultMessage(Static):
    """A tool's result, trimmed to a short preview (the model got all of it)."""

    def __init__(self, content: Any, *, approved: bool = True) -> None:
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        self.full_text = text
        preview = text if len(text) <= RESULT_PREVIEW_CHARS else text[:RESULT_PREVIEW_CHARS] + "…"
        label = "↳ " if approved else "↳ not run: "
        super().__init__(Text.assemble((label, "bold"), preview), classes="message tool-result")
        self.set_class(not approved, "-declined")


def _status_class(status: MessageStatus) -> str:
    return f"-{status.value.replace('_', '-')}"


def format_call(name: str, arguments: dict[str, Any]) -> str:
    args = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in arguments.items()
    )
    return f"{name}({args})"
