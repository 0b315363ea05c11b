"""The chat screen's key bindings, and the keys as the user has remapped them.

Every binding has an id, so the ``keys`` setting (binding id → key) can remap any of them
through Textual's keymap (App.set_keymap); the help screen shows the keys in effect.

Each binding's first key is one that a default Mac terminal delivers (mac_keys.py lists the keys
a Mac keeps for itself); the footer and the help show that one first. The older keys follow it,
for other terminals and for Option-as-Meta users.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding

CHAT_KEYS: list[Binding] = [
    Binding(
        "escape",
        "stop",
        "Stop",
        id="stop",
        tooltip="Stop the answer being written; what it wrote so far is kept",
        priority=True,
    ),
    Binding(
        "escape",
        "cancel_edit",
        "Cancel edit",
        id="cancel_edit",
        tooltip="Cancel editing your last message",
        priority=True,
    ),
    Binding(
        "ctrl+r",
        "regenerate",
        "Regenerate",
        id="regenerate",
        tooltip="Write the last answer again (the old one is kept as a branch)",
    ),
    Binding(
        "ctrl+e",
        "edit_last",
        "Edit last",
        id="edit_last",
        tooltip="Edit your last message and answer it again",
        priority=True,  # over the message box's own Ctrl+E (End does that too)
    ),
    Binding("ctrl+n", "new_session", "New chat", id="new_session", tooltip="Start a new chat"),
    Binding(
        "ctrl+o",
        "copy_last",
        "Copy answer",
        id="copy_last",
        tooltip="Copy the last answer to the clipboard",
    ),
    Binding(
        "ctrl+b",
        "toggle_sidebar",
        "Chats",
        id="toggle_sidebar",
        tooltip="Go to the saved chats' search (showing them); again: back to the message box",
    ),
    Binding(
        "ctrl+s",
        "settings",
        "Settings",
        id="settings",
        tooltip="Model precision, sampling, system prompt, memory, theme",
    ),
    # ? types into the message box; there F1 (Fn+F1 on a Mac laptop) or Ctrl+P → Help.
    Binding(
        "question_mark,f1",
        "help",
        "Help",
        id="help",
        tooltip="Show every key (? outside the message box; F1 anywhere)",
    ),
    # Scrolling the conversation without leaving the message box. Ctrl+U/Ctrl+D (a Mac has no
    # Page Up/Down, and Terminal.app keeps them) win over the box's delete-to-line-start and
    # delete-right (the Delete key still does that). Top and bottom (Ctrl+A as for a line's
    # start; Ctrl+F: follow the newest) act only when the box is empty, else the key passes on
    # to it: Ctrl+A and Home go to the line's start.
    Binding(
        "ctrl+u,pageup",
        "scroll_chat('page_up')",
        "Page up",
        id="scroll.page_up",
        show=False,
        priority=True,
        tooltip="Scroll the conversation up a page",
    ),
    Binding(
        "ctrl+d,pagedown",
        "scroll_chat('page_down')",
        "Page down",
        id="scroll.page_down",
        show=False,
        priority=True,
        tooltip="Scroll the conversation down a page",
    ),
    Binding(
        "ctrl+a,ctrl+home,home",
        "scroll_chat('home')",
        "Top",
        id="scroll.home",
        show=False,
        priority=True,
        tooltip="Scroll to the start of the chat (in the message box: when it is empty)",
    ),
    Binding(
        "ctrl+f,ctrl+end,end",
        "scroll_chat('end')",
        "Bottom",
        id="scroll.end",
        show=False,
        priority=True,
        tooltip="Scroll to the newest message, and follow it (in the message box: when empty)",
    ),
    # The message cursor (widgets/message_list.py holds the keys that act on it). Its keys
    # act only while it is on, and the movement keys need priority over the list's scrolling.
    # Ctrl+K (k: up, as in the cursor) wins over the box's delete-to-line-end: a Mac delivers no
    # Alt/Ctrl+Up.
    Binding(
        "ctrl+k,alt+up,ctrl+up",
        "cursor_enter",
        "Select messages",
        id="cursor.enter",
        show=False,
        priority=True,
        tooltip="Put a cursor on the newest message, to copy or save it",
    ),
    Binding(
        "up,k",
        "cursor_move(-1)",
        "Older message",
        id="cursor.older",
        show=False,  # the arrows go without saying; the footer is short of room
        priority=True,
        tooltip="Move the message cursor up",
    ),
    Binding(
        "down,j",
        "cursor_move(1)",
        "Newer message",
        id="cursor.newer",
        show=False,  # the arrows go without saying; the footer is short of room
        priority=True,
        tooltip="Move the message cursor down",
    ),
    Binding("c", "copy_message", "Copy", id="cursor.copy", tooltip="Copy the selected message"),
    Binding(
        "b",
        "copy_code",
        "Copy code",
        id="cursor.code",
        tooltip="Copy a code block of the selected message (again: the next one)",
    ),
    Binding(
        "s",
        "save_message",
        "Save",
        id="cursor.save",
        tooltip="Save the selected message to a Markdown file",
    ),
    Binding(
        "escape",
        "cursor_leave",
        "Back",
        id="cursor.leave",
        tooltip="Leave the message cursor, back to the message box",
    ),
    Binding(
        "ctrl+g",
        "continue_answer",
        "Continue the answer",
        id="continue",
        tooltip="Write on where an answer was cut off at the length limit",
    ),
    Binding(
        "ctrl+t",
        "attach_file",
        "Attach a file…",
        id="attach_file",
        show=False,  # in the palette and the help; the footer has no room left at 80 columns
        tooltip="Attach a text file to the chat (a long one is summarised)",
    ),
    # Left/Right (and Ctrl+Left/Right, a Mac's Spaces keys) move or jump words in a box with
    # text, so they switch branches only when it is empty or the message cursor is on.
    Binding(
        "left,ctrl+left",
        "branch('previous')",
        "Previous branch",
        id="branch.previous",
        show=False,
        priority=True,
        tooltip="Show the previous branch of the message under the cursor, else of the newest"
        " message that has branches (in the message box: when it is empty)",
    ),
    Binding(
        "right,ctrl+right",
        "branch('next')",
        "Next branch",
        id="branch.next",
        show=False,
        priority=True,
        tooltip="Show the next branch of the message under the cursor, else of the newest"
        " message that has branches (in the message box: when it is empty)",
    ),
    # The preset list under the message box (widgets/preset_completion.py). Priority, so that they
    # win over the box's own keys while the list is open; check_action turns them off otherwise,
    # and the key goes on to its next binding (the message cursor) or to the box as usual.
    Binding(
        "down",
        "preset_move(1)",
        "Next preset",
        id="presets.next",
        show=False,
        priority=True,
        tooltip="In the preset list: the next preset",
    ),
    Binding(
        "up",
        "preset_move(-1)",
        "Previous preset",
        id="presets.previous",
        show=False,
        priority=True,
        tooltip="In the preset list: the previous preset",
    ),
    Binding(
        "tab,enter",
        "preset_pick",
        "Pick preset",
        id="presets.pick",
        show=False,
        priority=True,
        tooltip="In the preset list: put the highlighted preset in the message box",
    ),
    # Textual's own Tab bindings, restated: the screen's "tab" above replaces its base's, and
    # Tab must still move the focus while the preset list is closed.
    Binding(
        "tab",
        "app.focus_next",
        "Next part",
        id="focus.next",
        show=False,
        tooltip="Move the focus to the next part of the screen",
    ),
    Binding(
        "shift+tab",
        "app.focus_previous",
        "Previous part",
        id="focus.previous",
        show=False,
        tooltip="Move the focus to the previous part of the screen",
    ),
]
"""Every key of the chat screen and its message list, in the order the help lists them."""

MESSAGE_LIST_KEY_IDS = frozenset(
    {"cursor.older", "cursor.newer", "cursor.copy", "cursor.code", "cursor.save"}
)
"""Keys that act only while the message list has the focus: the list holds them. (Leaving the
cursor moves the focus to the message box: the screen's, as the box is not the list's.)"""
MESSAGE_LIST_BINDINGS = [b for b in CHAT_KEYS if b.id in MESSAGE_LIST_KEY_IDS]
CHAT_BINDINGS = [b for b in CHAT_KEYS if b.id not in MESSAGE_LIST_KEY_IDS]
"""The screen's own keys: those that work wherever the focus is (or check it themselves)."""


def unknown_binding_ids(keymap: Mapping[str, str], bindings: Iterable[Binding]) -> list[str]:
    """The ids in ``keymap`` that name no binding (a typo in the settings file)."""
    known = {b.id for b in bindings if isinstance(b, Binding) and b.id}
    return sorted(set(keymap) - known)


def effective_key(binding: Binding, keymap: Mapping[str, str]) -> str:
    """The key(s) that run ``binding`` now: the user's, else its own."""
    return keymap.get(binding.id or "", binding.key)
