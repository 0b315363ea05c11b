"""The chat screen's part for the message cursor: select a message with the keyboard, copy it
or one of its code blocks, save it to a Markdown file; and continue a cut-off answer.

The cursor is on while the message list has the focus and ``MessageList.selected`` is set; its
keys (keys.py, ``cursor.*``) act only then, so the same letters still type into the box.
"""

from __future__ import annotations

from pathlib import Path

from textual import events, on
from textual.widget import Widget

from llama_chat.status import MessageStatus
from llama_chat.tui.clipboard import copy_text
from llama_chat.tui.message_text import code_blocks, describe_block, message_source
from llama_chat.tui.screens.chat_base import ChatScreenBase
from llama_chat.tui.screens.save_message import SaveMessageDialog, suggested_path
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage

CURSOR_ACTIONS = frozenset(
    {"cursor_move", "cursor_leave", "copy_message", "copy_code", "save_message"}
)
"""Actions that act on the selected message, so only while the cursor is on."""


class CursorHandlers(ChatScreenBase):
    _code_turn: tuple[Widget, int] | None = None
    """The message whose code block ``b`` copied last, and which one (the next ``b`` moves on)."""

    @property
    def cursor_on(self) -> bool:
        messages = self.messages
        return messages.selected is not None and self.focused is messages

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CURSOR_ACTIONS:
            return self.cursor_on
        if action == "continue_answer":
            # Shown in the footer exactly when there is a cut-off answer to continue.
            return not self.state.busy and self._cut_off_answer() is not None
        return super().check_action(action, parameters)

    # -- moving -------------------------------------------------------------------------------

    def action_cursor_enter(self) -> None:
        items = self.messages.selectable()
        if not items:
            self.notify("There is no message to select yet.", severity="warning")
            return
        self.messages.focus()
        self.messages.select(items[-1])

    async def action_cursor_move(self, step: int) -> None:
        messages = self.messages
        current = messages.selected
        items = messages.selectable()
        index = items.index(current) + step if current in items else len(items) - 1
        if index < 0 and await messages.mount_older_page():
            items = messages.selectable()  # the older page is mounted above: step onto it
            index = items.index(current) + step if current in items else 0
        if 0 <= index < len(items):
            self.messages.select(items[index])

    def action_cursor_leave(self) -> None:
        self.messages.select(None)
        self.prompt.focus()

    @on(events.DescendantBlur)
    def _cursor_blurred(self, event: events.DescendantBlur) -> None:
        if event.widget is self.messages and self.messages.selected is not None:
            self.messages.select(None)

    def on_key(self, event: events.Key) -> None:
        """Typing (a key that is not one of the cursor's) goes back to the box, with the key."""
        if not self.cursor_on or not event.is_printable or event.key in self.active_bindings:
            return
        event.stop()
        event.prevent_default()
        self.action_cursor_leave()
        self.prompt.insert(event.character or "")

    # -- acting on the selected message -----------------------------------------------------

    def action_copy_message(self) -> None:
        selected = self.messages.selected
        if selected is not None:
            copy_text(self.app, message_source(selected), f"the {_kind(selected)}")

    def action_copy_code(self) -> None:
        selected = self.messages.selected
        if selected is None:
            return
        blocks = code_blocks(message_source(selected))
        if not blocks:
            self.notify(f"This {_kind(selected)} has no code block.", severity="warning")
            return
        index = 0
        if self._code_turn is not None and self._code_turn[0] is selected:
            index = (self._code_turn[1] + 1) % len(blocks)
        self._code_turn = (selected, index)
        copy_text(self.app, blocks[index].code, describe_block(index, blocks))

    def action_save_message(self) -> None:
        selected = self.messages.selected
        if selected is None:
            return
        title = None
        if self.state.session_id is not None:
            title = self.state.controller.sessions.get_session(self.state.session_id).title
        suggested = suggested_path(self.state.export_folder(), title, _kind(selected))

        def saved(path: Path | None) -> None:
            if path is not None:
                self.notify(f"Saved the {_kind(selected)} to {path}.")

        self.app.push_screen(SaveMessageDialog(message_source(selected), suggested), saved)

    # -- continuing a cut-off answer -----------------------------------------------------------

    def _cut_off_answer(self) -> AssistantMessage | None:
        """The newest message, when it is an answer cut off at the length limit."""
        items = self.messages.selectable()
        newest = items[-1] if items else None
        if isinstance(newest, AssistantMessage) and newest.status == MessageStatus.CUT_OFF:
            return newest
        return None

    def action_continue_answer(self) -> None:
        answer = self._cut_off_answer()
        if answer is None or not self.can_start():
            return
        self.start_turn()
        self.messages.answer = answer  # the new text streams into the same message
        self.state.controller.continue_answer()


def _kind(widget: Widget) -> str:
    if isinstance(widget, UserMessage):
        return "message"
    if isinstance(widget, AssistantMessage):
        return "answer"
    return "tool message"
