"""The message box: multi-line, Enter sends, Shift+Enter or Ctrl+J starts a new line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = ("shift+enter", "ctrl+j")
"""Keys that insert a newline. Many terminals cannot tell Shift+Enter from Enter; Ctrl+J
(a line feed) gets through all of them."""


class PromptInput(TextArea):
    """A TextArea that posts ``Submitted`` on Enter and recalls the last prompt with Up."""

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

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if self.text.strip():
                self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key == "up" and not self.text and self.prompt_history:
            event.stop()
            event.prevent_default()
            self.set_text(self.prompt_history[-1])
            return
        await super()._on_key(event)

    def set_text(self, text: str) -> None:
        """Replace the contents and put the cursor at the end."""
        self.load_text(text)
        self.move_cursor(self.document.end)

    def remember(self, text: str) -> None:
        if not self.prompt_history or self.prompt_history[-1] != text:
            self.prompt_history.append(text)
