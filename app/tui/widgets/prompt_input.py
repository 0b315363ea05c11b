"""The message box: multi-line, Enter sends, Shift+Enter or Ctrl+J starts a new line.

Its border shows the draft's tokens and the room left. Counting runs in a thread worker a short
pause after typing (the real tokenizer: tiktoken, which is thread-safe and never touches MLX),
so typing never waits on it. "Left" is what the next message may take before older turns drop
out of the model's view: the context limit, less what the chat already holds, less the room
kept for the answer (max tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import TextArea

from llama_chat.tui.ordered_keys import OrderedKeysApp
from llama_chat.tui.state import chat_app

DRAFT_SAVE_DELAY_S = 0.5
"""Typing pauses this long before the draft is saved (and on leaving the chat or quitting)."""
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


class PromptInput(TextArea):
    """A TextArea that posts ``Submitted`` on Enter and recalls the last prompt with Up."""

    BINDINGS = [
        # Priority: TextArea inserts a newline for Enter in its key handler, before any
        # ordinary binding is looked at.
        Binding(
            "enter",
            "submit",
            "Send",
            id="prompt.send",
            priority=True,
            show=False,
            tooltip="Send the message",
        ),
        # Many terminals cannot tell Shift+Enter from Enter; Ctrl+J (a line feed) gets through
        # all of them.
        Binding(
            "ctrl+j,shift+enter",
            "newline",
            "New line",
            id="prompt.newline",
            priority=True,
            show=False,
            tooltip="New line in the message",
        ),
        # Replaces TextArea's own "up" binding; in a non-empty box it still moves the cursor.
        Binding(
            "escape",
            "take_back",
            "Take back",
            id="prompt.take_back",
            show=False,
            tooltip="Take back a message that waits for the model to load",
        ),
        Binding(
            "up",
            "recall_or_cursor_up",
            "Last message",
            id="prompt.recall",
            show=False,
            tooltip="Bring back the last message (when the box is empty)",
        ),
    ]

    @dataclass
    class Submitted(Message):
        prompt_input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            "",
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            highlight_cursor_line=False,
            placeholder="Message Llama. Enter sends, Shift+Enter or Ctrl+J for a new line",
        )
        self.prompt_history: list[str] = []
        """Prompts sent in this chat, oldest first; Up in an empty box brings back the last."""
        self.stashed: str | None = None
        """What was in the box when editing the last message began; it comes back after."""
        self._draft_timer: Timer | None = None
        self.waiting: str | None = None
        """A message sent before the model could answer: it goes out when the model is ready."""
        self._count_timer: Timer | None = None
        self._context_used = 0
        """The chat's tokens when the count was asked for (the room left depends on it)."""

    @dataclass
    class DraftChanged(Message):
        """The unsent text changed and then rested for DRAFT_SAVE_DELAY_S: time to save it."""

        prompt_input: PromptInput

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    @on(TextArea.Changed)
    def _restart_draft_timer(self) -> None:
        # A new timer each time: a one-shot timer that has fired cannot be started again.
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(
            DRAFT_SAVE_DELAY_S, lambda: self.post_message(self.DraftChanged(self))
        )

    @property
    def draft(self) -> str:
        """The text to keep if the app closed now: the stashed draft while editing."""
        return self.stashed if self.stashed is not None else self.text

    def stash_and_set(self, text: str) -> None:
        """Put ``text`` in the box, keeping what was there to bring back with ``unstash``."""
        if self.stashed is None:
            self.stashed = self.text
        self.set_text(text)

    def unstash(self) -> None:
        """Bring back what the box held before ``stash_and_set`` (no-op without a stash)."""
        if self.stashed is not None:
            self.set_text(self.stashed)
            self.stashed = None

    def action_submit(self) -> None:
        if _typed_keys_waiting(self.app):
            # More keys right behind this Enter: pasted text (or a burst) still arriving, where
            # a newline is a line break in the message, not "send" (a person's next key after
            # Enter comes far later than the app takes to handle one).
            self.insert("\n")
            return
        if self.text.strip() and self.waiting is None:
            self.post_message(self.Submitted(self, self.text))

    def wait_for_model(self) -> None:
        """Hold the message in the box, read-only, until the model can answer it."""
        self.waiting = self.text
        self.read_only = True
        self.add_class("-waiting")
        self.border_subtitle = "waits for the model to load · Esc takes it back"

    def stop_waiting(self) -> str | None:
        """End the wait; the held message (None if there was none) stays in the box."""
        text, self.waiting = self.waiting, None
        self.read_only = False
        self.remove_class("-waiting")
        self.border_subtitle = ""
        return text

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "take_back":
            return self.waiting is not None
        return super().check_action(action, parameters)

    def action_take_back(self) -> None:
        self.stop_waiting()
        self.move_cursor(self.document.end)

    def action_newline(self) -> None:
        self.insert("\n")

    def action_recall_or_cursor_up(self) -> None:
        if not self.text and self.prompt_history:
            self.set_text(self.prompt_history[-1])
        else:
            self.action_cursor_up()

    def set_text(self, text: str) -> None:
        """Replace the contents and put the cursor at the end."""
        self.load_text(text)
        self.move_cursor(self.document.end)

    def remember(self, text: str) -> None:
        if not self.prompt_history or self.prompt_history[-1] != text:
            self.prompt_history.append(text)

    # -- the draft's token count ----------------------------------------------------------------

    def count_draft(self, context_used: int) -> None:
        """Count the draft again, a short pause from now, against a chat of ``context_used``
        tokens (the draft, the tokenizer or the room left may have changed)."""
        self._context_used = context_used
        if not self.text.strip():
            self._show_count("", None)
            return
        # A fresh timer each time: Textual's one-shot timers cannot be re-armed once they fired.
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = self.set_timer(COUNT_DELAY_S, self._count_draft)

    def _count_draft(self) -> None:
        self._count(self.text)

    @work(thread=True, exclusive=True, group="draft-count")
    def _count(self, text: str) -> None:
        tokens = chat_app(self).controller.count_tokens(text)
        self.app.call_from_thread(self._show_count, text, tokens)

    def _show_count(self, text: str, tokens: int | None) -> None:
        if text != self.text and text:
            return  # typing went on: a newer count is coming
        if self.waiting is not None:
            return  # the border says the message waits for the model (a count may land later)
        warn = False
        subtitle = ""
        if tokens is not None and text.strip():
            settings = chat_app(self).settings
            subtitle, warn = describe_draft(
                tokens, self._context_used, settings.context_limit, settings.max_tokens
            )
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
        self.set_class(warn, "-over-budget")


def _typed_keys_waiting(app: object) -> bool:
    return isinstance(app, OrderedKeysApp) and app.keys_waiting > 0
