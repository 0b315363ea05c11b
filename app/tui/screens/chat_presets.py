"""The prompt library in the chat box: "/" opens completion over the presets, and sending
``/name [arg] [text]`` applies one to the text typed after it, or else to the last answer.

The message box keeps the focus while the list is open: Up/Down move in the list, Tab or
Enter pick (the box then holds ``/name ``), Esc closes it. The chat shows the message sent
(the template with the text in it); the preset's system prompt and temperature hold for that
one answer (ChatController.send_with_preset).
"""

from __future__ import annotations

import re

from textual import events, on
from textual.widgets import TextArea

from llama_chat.chat.presets import PresetError, PresetLibrary, prepare_invocation
from llama_chat.tui.screens.chat_base import ChatScreenBase
from llama_chat.tui.widgets.message import UserMessage
from llama_chat.tui.widgets.preset_completion import PresetCompletion, matching

_TYPING_NAME = re.compile(r"/([a-z0-9-]*)")
"""The box holds only a slash and (part of) a name: the completion is open for it."""
_INVOCATION = re.compile(r"/[a-z][a-z0-9-]*(\s|$)")
"""A message that starts like this is a preset's name, not text for the model."""
_NAMED = re.compile(r"/([a-z][a-z0-9-]*)\s")


class PresetHandlers(ChatScreenBase):
    def __init__(self) -> None:
        super().__init__()
        self._completion_dismissed = False
        """Esc closed the list: it stays closed until no name is being typed."""
        self._told: set[str] = set()
        self._usage_for: tuple[str, str] = ("", "")
        """(name, what the box's title says for it): the file is not read again per key."""

    def preset_library(self) -> PresetLibrary:
        """Read afresh each time: presets saved in the settings are offered at once. A problem
        with the file is told once (a file that is not JSON is moved aside as it is read)."""
        library = PresetLibrary.load(self.state.paths.presets_file)
        for warning in library.warnings:
            if warning not in self._told:
                self._told.add(warning)
                self.notify(f"Presets: {warning}", severity="warning", timeout=15)
        return library

    @property
    def completion(self) -> PresetCompletion:
        return self.query_one(PresetCompletion)

    @property
    def completion_open(self) -> bool:
        return bool(self.completion.display)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("preset_move", "preset_pick"):
            return self.completion_open and self.focused is self.prompt
        return super().check_action(action, parameters)

    # -- the list ---------------------------------------------------------------------------------

    @on(TextArea.Changed, "#prompt")
    def _update_completion(self) -> None:
        usage = self._usage(self.prompt.text)
        if self.prompt.border_title != usage:  # setting it, even unchanged, redraws the box
            self.prompt.border_title = usage
        typed = _TYPING_NAME.fullmatch(self.prompt.text)
        if typed is None:
            self._completion_dismissed = False
            self.completion.hide()
            return
        if self._completion_dismissed:
            return
        self.completion.show(matching(self.preset_library().all(), typed.group(1)))

    def _usage(self, text: str) -> str:
        """How to go on once a known preset's name is typed in full ("" otherwise)."""
        named = _NAMED.match(text)
        if named is None:
            self._usage_for = ("", "")  # the next invocation reads the presets afresh
            return ""
        name = named.group(1)
        if self._usage_for[0] != name:
            preset = {p.name: p for p in self.preset_library().all()}.get(name)
            word = "WORD " if preset is not None and preset.needs_arg else ""
            usage = f"/{name} {word}TEXT (no text: the last answer)" if preset else ""
            self._usage_for = (name, usage)
        return self._usage_for[1]

    def on_key(self, event: events.Key) -> None:
        # Esc is not a binding here: the chat screen's own Esc bindings (stop, cancel edit)
        # would replace it; when they do not apply, the key arrives here.
        if event.key == "escape" and self.completion_open:
            self._completion_dismissed = True
            self.completion.hide()
            event.stop()

    def action_preset_move(self, step: int) -> None:
        self.completion.move(step)

    def action_preset_pick(self) -> None:
        preset = self.completion.picked
        self.completion.hide()
        if preset is not None:
            self.prompt.set_text(f"/{preset.name} ")

    # -- sending ----------------------------------------------------------------------------------

    async def submit_preset(self, typed: str) -> bool:
        """Send ``typed`` through its preset if it starts with "/name"; False if it does not.

        A problem (unknown name, nothing to work on) is a warning, and the text stays in the box.
        """
        if self.state.editing or not _INVOCATION.match(typed):
            return False
        self.completion.hide()
        try:
            preset, message = prepare_invocation(
                self.preset_library(), typed, self.state.controller.last_answer()
            )
        except PresetError as exc:
            self.notify(
                f"{exc}. (To send text that starts with '/', start it with a space.)",
                severity="warning",
                timeout=10,
            )
            return True
        if not self.can_start():
            return True
        self.prompt.remember(typed)
        self.prompt.clear()
        await self.messages.add(UserMessage(message))
        self.start_turn()
        self.state.controller.send_with_preset(message, preset)
        self.save_draft()
        return True
