"""Press keys and see what the app receives: the key's name, its character, and the bindings it
runs (by id, the user's remappings applied). A key that shows nothing here never reached the
app: the terminal or the system kept it (mac_keys.py lists what a default Mac keeps). A key that
shows up with no binding is one to remap in settings.json. ``llama-chat --keys``, or K in the help.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Label, Log

from llama_chat.tui.mac_keys import OwnedBinding, app_bindings, binding_keys, captured_on_mac

INTRO = (
    "Press keys to see what llama-chat receives. Nothing shown: the terminal or the system kept "
    "the key (on a Mac: Ctrl+arrows are Mission Control; Option types characters unless the "
    "terminal uses Option as Meta). Esc twice leaves."
)


def bindings_for(
    key: str, aliases: list[str], bindings: list[OwnedBinding], keymap: Mapping[str, str]
) -> list[str]:
    """The binding ids that ``key`` runs, remappings applied, each with the class that holds
    it ("dialog.cancel (AttachScreen +5)": the same id in five more dialogs)."""
    names = {key, *aliases}
    owners: dict[str, list[str]] = {}
    for owned in bindings:
        binding = owned.binding
        if names & set(binding_keys(keymap.get(binding.id or "", binding.key))):
            owners.setdefault(binding.id or binding.action, []).append(owned.owner)
    return [
        f"{binding_id} ({held[0]}{f' +{len(held) - 1}' if len(held) > 1 else ''})"
        for binding_id, held in owners.items()
    ]


def describe_key(event: events.Key, bindings: list[OwnedBinding], keymap: Mapping[str, str]) -> str:
    """One line of the tester: name, character, bindings, and a Mac note where one applies."""
    character = repr(event.character) if event.character is not None else "no character"
    runs = bindings_for(event.key, event.aliases, bindings, keymap)
    line = f"{event.key}  {character}  → {', '.join(runs) if runs else 'no binding'}"
    if (why := captured_on_mac(event.key)) is not None:
        line += f"  [arrived here; a default Mac keeps it: {why}]"
    return line


class KeyTesterScreen(Screen[None], inherit_bindings=False):
    """Every key goes to the log (none runs an action here), except the app's priority keys."""

    # Its own CSS: the screen shows in the chat app (from the help) and in the tester alone.
    DEFAULT_CSS = """
    KeyTesterScreen #keys-intro { padding: 1 2; width: 100%; }
    KeyTesterScreen #keys-log { padding: 0 2; }
    """

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)
        self.bindings = app_bindings()
        self._escape_pressed = False
        """Esc was the last key: one more leaves."""

    def compose(self) -> ComposeResult:
        yield Label(INTRO, id="keys-intro")
        log = Log(id="keys-log", auto_scroll=True)
        log.can_focus = False  # with no focus every key comes to the screen's on_key
        yield log

    def on_key(self, event: events.Key) -> None:
        event.stop()  # no binding runs: the key is only reported
        event.prevent_default()
        log = self.query_one(Log)
        width = max(20, log.scrollable_content_region.width)
        line = describe_key(event, self.bindings, self.keymap)
        log.write_lines(textwrap.wrap(line, width, subsequent_indent="    "))
        if event.key == "escape":
            if self._escape_pressed:
                self.dismiss()
                return
            log.write_line("(Esc again to leave)")
        self._escape_pressed = event.key == "escape"


class KeyTesterApp(App[int], inherit_bindings=False):
    """``llama-chat --keys``: the key tester alone; Ctrl+Q or Esc twice leaves."""

    TITLE = "llama-chat: key tester"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="keys.quit", priority=True)]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def on_mount(self) -> None:
        self.push_screen(KeyTesterScreen(self.keymap), lambda _: self.exit(0))

    def action_quit(self) -> None:
        self.exit(0)


def run_key_tester(keymap: Mapping[str, str]) -> int:
    return KeyTesterApp(keymap).run() or 0
