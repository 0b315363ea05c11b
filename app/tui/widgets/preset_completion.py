"""The list of presets that opens over the message box when a message starts with "/"."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from llama_chat.chat.presets import Preset

MAX_ROWS = 6
"""Rows shown at once (it scrolls): the chat stays in view at 80×24."""


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
