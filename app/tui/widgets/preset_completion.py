"""The prompt library in the chat box: "/" opens completion over the presets, and sending
``/name [arg] [text]`` applies one to the text typed after it, or else to the last answer.

The message box keeps the focus while the list is open: Up/Down move in the list, Tab or
Enter pick (the box then holds ``/name ``), Esc closes it (the chat screen's keys). The chat
shows the message sent (the template with the text in it); the preset's system prompt and
temperature hold for that one answer (ChatController.send_with_preset).
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from llama_chat.chat.presets import Preset, PresetError, PresetLibrary, prepare_invocation
from llama_chat.tui.state import chat_app

MAX_ROWS = 6
"""Rows shown at once (it scrolls): the chat stays in view at 80×24."""

_TYPING_NAME = re.compile(r"/([a-z0-9-]*)")
"""The box holds only a slash and (part of) a name: the completion is open for it."""
_INVOCATION = re.compile(r"/[a-z][a-z0-9-]*(\s|$)")
"""A message that starts like this is a preset's name, not text for the model."""
_NAMED = re.compile(r"/([a-z][a-z0-9-]*)\s")


def matching(presets: list[Preset], typed: str) -> list[Preset]:
    """Presets whose name starts with ``typed``, then those that contain it elsewhere."""
    starts = [p for p in presets if p.name.startswith(typed)]
    inside = [p for p in presets if typed in p.name and p not in starts]
    return starts + inside


class PresetCompletion(OptionList):
    """Shows presets; the message box keeps the focus (the chat screen moves the highlight)."""

    can_focus = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.presets: list[Preset] = []
        self._dismissed = False
        """Esc closed the list: it stays closed until no name is being typed."""
        self._told: set[str] = set()
        self._usage_for: tuple[str, str] = ("", "")
        """(name, what the box's title says for it): the file is not read again per key."""

    def preset_library(self) -> PresetLibrary:
        """Read afresh each time: presets saved in the settings are offered at once. A problem
        with the file is told once (a file that is not JSON is moved aside as it is read)."""
        library = PresetLibrary.load(chat_app(self).paths.presets_file)
        for warning in library.warnings:
            if warning not in self._told:
                self._told.add(warning)
                self.notify(f"Presets: {warning}", severity="warning", timeout=15)
        return library

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    def follow(self, text: str) -> str:
        """Open, narrow or close the list for the box's ``text``; returns what the box's title
        says: how to go on once a known preset's name is typed in full ("" otherwise)."""
        usage = self._usage(text)
        typed = _TYPING_NAME.fullmatch(text)
        if typed is None:
            self._dismissed = False
            self.hide()
        elif not self._dismissed:
            self.show(matching(self.preset_library().all(), typed.group(1)))
        return usage

    def _usage(self, text: str) -> str:
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

    def dismiss(self) -> bool:
        """Esc: close the list until the name typed is gone; False if it was not open."""
        if not self.is_open:
            return False
        self._dismissed = True
        self.hide()
        return True

    @staticmethod
    def is_invocation(typed: str) -> bool:
        """Whether ``typed`` starts with a preset's name ("/name"), not text for the model."""
        return _INVOCATION.match(typed) is not None

    def prepare(self, typed: str, last_answer: str) -> tuple[Preset, str] | None:
        """The preset ``typed`` names and the message it makes (of the text typed after it, or
        else of ``last_answer``); None after a warning saying what is wrong."""
        self.hide()
        try:
            return prepare_invocation(self.preset_library(), typed, last_answer)
        except PresetError as exc:
            self.notify(
                f"{exc}. (To send text that starts with '/', start it with a space.)",
                severity="warning",
                timeout=10,
            )
            return None

    def show(self, presets: list[Preset]) -> None:
        """List ``presets`` (the first highlighted); an empty list hides it."""
        self.presets = presets
        self.clear_options()
        self.add_options(Option(_row(p), id=p.name) for p in presets)
        self.highlighted = 0 if presets else None
        self.styles.height = min(len(presets), MAX_ROWS) + 2  # + the border
        self.display = bool(presets)

    def hide(self) -> None:
        self.presets = []
        if self.display:  # hiding a hidden list would still lay the chat out again
            self.display = False

    def move(self, step: int) -> None:
        if self.presets:
            self.highlighted = ((self.highlighted or 0) + step) % len(self.presets)

    @property
    def picked(self) -> Preset | None:
        if not self.presets or self.highlighted is None:
            return None
        return self.presets[self.highlighted]


def _row(preset: Preset) -> Text:
    return Text.assemble(("/" + preset.name, "bold"), "  ", (preset.description, "dim"))
