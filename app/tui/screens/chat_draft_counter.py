"""The live draft counter: the message box's border shows the draft's tokens and the room left.

Counting runs in a thread worker a short pause after typing (the real tokenizer: tiktoken,
which is thread-safe and never touches MLX), so typing never waits on it. "Left" is what the
next message may take before older turns drop out of the model's view: the context limit, less
what the chat already holds, less the room kept for the answer (max tokens).
"""

from __future__ import annotations

from textual import on, work
from textual.timer import Timer
from textual.widgets import TextArea

from llama_chat.tui.bridge import Core
from llama_chat.tui.screens.chat_base import ChatScreenBase

COUNT_DELAY_S = 0.15
"""Typing pauses this long before the draft is counted."""


def describe_draft(tokens: int, used: int, limit: int, max_tokens: int) -> tuple[str, bool]:
    """(what the box's border says, whether it is a warning) for a draft of ``tokens``."""
    room = max(limit - max_tokens, 0)  # the whole prompt's share; the rest is for the answer
    left = max(room - used, 0)
    text = f"{tokens:,} token{'s' if tokens != 1 else ''} · {left:,} left"
    if tokens > room:
        return f"{text} · too long: it would be refused", True
    if tokens > left:
        return f"{text} · older messages will drop out", True
    return text, False


class DraftCounterHandlers(ChatScreenBase):
    _count_timer: Timer | None = None

    @on(TextArea.Changed, "#prompt")
    @on(Core.ModelLoaded)
    @on(Core.SessionOpened)
    @on(Core.ContextCounted)
    @on(Core.TurnFinished)
    @on(Core.JobFinished)
    def _draft_changed(self) -> None:
        """Count again when the draft, the tokenizer or the room left (a turn, a chat, the
        settings) may have changed."""
        if not self.prompt.text.strip():
            self._show_count("", None)
            return
        # A fresh timer each time: Textual's one-shot timers cannot be re-armed once they fired.
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = self.set_timer(COUNT_DELAY_S, self._count_draft)

    def _count_draft(self) -> None:
        self._count(self.prompt.text)

    @work(thread=True, exclusive=True, group="draft-count")
    def _count(self, text: str) -> None:
        tokens = self.state.controller.count_tokens(text)
        self.app.call_from_thread(self._show_count, text, tokens)

    def _show_count(self, text: str, tokens: int | None) -> None:
        if text != self.prompt.text and text:
            return  # typing went on: a newer count is coming
        warn = False
        subtitle = ""
        if tokens is not None and text.strip():
            settings = self.state.settings
            used = self.status.context_used
            subtitle, warn = describe_draft(
                tokens, used, settings.context_limit, settings.max_tokens
            )
        if self.prompt.border_subtitle != subtitle:
            self.prompt.border_subtitle = subtitle
        self.prompt.set_class(warn, "-over-budget")
