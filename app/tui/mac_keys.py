"""Keys that a default Mac keeps for itself, and every binding the app has.

llama-chat runs in Terminal.app or iTerm2 as they come out of the box. Some keys never reach a
program there: macOS takes them (Mission Control, input sources), the terminal takes them (its own
scrollback), or the keyboard has no such key. Every action needs at least one key that is not on
these lists; the keys below stay as second keys for other terminals and for people who changed
those settings. ``llama-chat --keys`` shows what really arrives.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass

from textual.binding import Binding
from textual.dom import DOMNode

CAPTURED_KEYS: dict[str, str] = {
    "ctrl+left": "macOS: Mission Control's “Move left a space”",
    "ctrl+right": "macOS: Mission Control's “Move right a space”",
    "ctrl+up": "macOS: opens Mission Control",
    "ctrl+down": "macOS: Application windows (App Exposé)",
    "ctrl+space": "macOS: selects the previous input source",
    "ctrl+@": "macOS: Ctrl+Space (the terminal sends it as Ctrl+@) selects the input source",
    "shift+enter": "Terminal.app and iTerm2 send Enter's own code: it arrives as Enter",
}
"""Whole keys, each with why a default Mac does not deliver it."""

CAPTURED_MODIFIERS: dict[str, str] = {
    "alt": "Option types a character (Option+J is ∆) unless the terminal uses Option as Meta",
    "meta": "Option types a character unless the terminal uses Option as Meta",
    "super": "Cmd is the terminal's own (copy, paste, new tab); it never reaches a program",
}
"""Modifiers that no key reaches a program with, on a default Mac."""

CAPTURED_BASE_KEYS: dict[str, str] = {
    **{
        key: "Terminal.app scrolls its own scrollback with it (Shift+ sends it on); Mac laptops "
        "have no such key (Fn+arrow)"
        for key in ("home", "end", "pageup", "pagedown")
    },
    "insert": "Mac keyboards have no Insert key",
    **{
        f"f{n}": "Mac laptops give F1–F12 to brightness, Mission Control and media; the F-key "
        "needs Fn held"
        for n in range(1, 13)
    },
}
"""Keys that do not arrive whatever modifier is held with them."""


def captured_on_mac(key: str) -> str | None:
    """Why a default Mac keeps ``key`` (a Textual key name) from the app; None if it arrives."""
    key = key.strip()
    if key in CAPTURED_KEYS:
        return CAPTURED_KEYS[key]
    *modifiers, base = key.split("+")
    for modifier in modifiers:
        if modifier in CAPTURED_MODIFIERS:
            return CAPTURED_MODIFIERS[modifier]
    return CAPTURED_BASE_KEYS.get(base)


def binding_keys(key_list: str) -> list[str]:
    """The keys of a binding's comma list ("f1,question_mark" → ["f1", "question_mark"])."""
    return [key.strip() for key in key_list.split(",") if key.strip()]


def mac_safe_keys(key_list: str) -> list[str]:
    """The keys of a comma list that a default Mac delivers, in their order."""
    return [key for key in binding_keys(key_list) if captured_on_mac(key) is None]


@dataclass(frozen=True)
class OwnedBinding:
    owner: str
    """The class that declares it, e.g. "ChatScreen"."""
    binding: Binding


def app_bindings() -> list[OwnedBinding]:
    """Every binding the app's own classes declare (screens, widgets, the app), read by walking
    the modules of llama_chat.tui, so a new screen's keys are included without listing it."""
    import llama_chat.tui as tui

    classes: dict[type, None] = {}  # ordered, and a class bound to two names counts once
    for module_info in pkgutil.walk_packages(tui.__path__, f"{tui.__name__}."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                classes[value] = None
    return [found for cls in classes for found in _declared(cls)]


def _declared(cls: type) -> Iterator[OwnedBinding]:
    if not issubclass(cls, DOMNode):
        return
    for entry in cls.__dict__.get("BINDINGS", []):  # its own, not its bases' (Textual's)
        binding = entry if isinstance(entry, Binding) else Binding(*entry)
        yield OwnedBinding(cls.__name__, binding)
