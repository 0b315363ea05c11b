"""One chat message on screen: the user's text, an answer, a tool call or a tool result."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widget import AwaitMount, Widget
from textual.widgets import Markdown, Static

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
STREAM_INTERVAL_S = 1 / 20
"""How often at most a streaming answer's Markdown takes the text that came meanwhile: smooth
to read, and several tokens per update at the speeds the engine reaches on a Mac."""
STREAM_SCREEN_SHARE = 0.25
"""The most of the time a streaming answer keeps the screen busy redrawing it. The engine needs
the CPU too: where one update (the parse, the layout, the redraw) takes longer, updates come
less often (an update that took 30 ms waits 120 ms before the next)."""


class UserMessage(Static):
    """What the user typed, shown literally: no console markup, no Markdown."""

    def __init__(self, text: str, *, message_id: int | None = None) -> None:
        super().__init__(Text(text), classes="message user")
        self.text = text
        self.message_id = message_id
        self.border_title = "You"


class AnswerMarkdown(Markdown):
    """An answer's Markdown, whose last block carries ``-last-block`` (no blank line below it).

    The CSS way, ``Markdown > *:last-child``, gives every widget of the app an order style, and
    Textual then restyles all of a parent's children, subtrees included, at each mount: every
    message when one is added, every block of an answer when a block streams in, every sidebar
    row for a new chat. Here the class is set on the block before it mounts (styled once, laid
    out once), and leaves the block before it (one restyle).
    """

    def mount_all(
        self,
        widgets: Iterable[Widget],
        *,
        before: int | str | Widget | None = None,
        after: int | str | Widget | None = None,
    ) -> AwaitMount:
        widgets = list(widgets)
        if widgets and before is None and after is None:  # new blocks at the end
            for block in self.query_children(".-last-block"):
                block.remove_class("-last-block")
            widgets[-1].set_class(True, "-last-block", update=False)
        return super().mount_all(widgets, before=before, after=after)


class AssistantMessage(Vertical):
    """An answer rendered as Markdown; streams in a few times a second, not once per token.

    Each update of the Markdown re-parses the answer's last block and lays the screen out again;
    done per token, that work competed with the engine for the CPU and slowed the answer down.
    So fragments gather in ``text`` and reach the Markdown at most every STREAM_INTERVAL_S
    (the first one at once), and ``finish`` adds only what is still pending.
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
        self._markdown = AnswerMarkdown(text)
        self._shown = len(text)
        """How much of ``text`` the Markdown holds."""
        self._next_show = 0.0
        """monotonic() time before which the pending text waits (one update per interval)."""
        self._show_due = False
        """Text is pending and a call to show it is on its way."""
        self._show_timer: Timer | None = None
        self._detail = Static("", classes="message-detail")
        self._detail.display = False

    def compose(self) -> ComposeResult:
        yield self._markdown
        yield self._detail

    def update_node_styles(self, animate: bool = True) -> None:
        """Restyle the box alone when its classes change (its status, the cursor on it): no
        rule of the app's CSS styles an answer's inside by them, and Textual restyles every
        descendant, which for a long answer took a third of a second at its end."""
        self.app.stylesheet.update_nodes([self], animate=animate)

    @property
    def streaming(self) -> bool:
        return self.status == MessageStatus.STREAMING

    def append(self, delta: str) -> None:
        """Add a fragment of the answer as it is generated (shown with the next update)."""
        if not self.streaming:
            self.set_status(MessageStatus.STREAMING)
        self.text += delta
        if not self._show_due:
            self._show_due = True
            delay = self._next_show - time.monotonic()
            if delay > 0:
                self._show_timer = self.set_timer(delay, self._show_pending)
            else:
                self.call_later(self._show_pending)

    async def _show_pending(self) -> None:
        if not self._show_due:
            return  # finish showed it already
        started = time.monotonic()
        if self._next_show - started > 0.001:  # set before the last update's cost was known
            self._show_timer = self.set_timer(self._next_show - started, self._show_pending)
            return
        self._show_due, self._show_timer = False, None
        self._next_show = started + STREAM_INTERVAL_S
        await self._show_rest()
        self.call_after_refresh(self._space_updates, started)

    def _space_updates(self, started: float) -> None:
        """The update is on screen: the next waits in proportion to what this one took."""
        took = time.monotonic() - started
        self._next_show = max(self._next_show, started + took / STREAM_SCREEN_SHARE)

    async def _show_rest(self) -> None:
        """Hand the Markdown what it does not hold yet: only the answer's tail is parsed again."""
        pending, self._shown = self.text[self._shown :], len(self.text)
        if pending:
            await self._markdown.append(pending)

    async def finish(self, text: str, status: MessageStatus, detail: str | None = None) -> None:
        """End the stream: show what is pending, or the whole text when it is not what streamed
        (a full render remounts every block of the answer, so it is the exception)."""
        if self._show_timer is not None:
            self._show_timer.stop()
        self._show_due, self._show_timer = False, None
        if text.startswith(self.text[: self._shown]):
            self.text = text
            await self._show_rest()
        elif text != self._markdown.source:
            self.text, self._shown = text, len(text)
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
