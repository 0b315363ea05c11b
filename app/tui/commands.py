"""Command palette entries: every action of the app, and a picker for saved chats."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from llama_chat.tui.app import LlamaChatApp
    from llama_chat.tui.screens.chat import ChatScreen

SESSION_PICKER_LIMIT = 200

# (title, help, chat screen action): the palette's view of the chat screen's actions.
CHAT_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("New chat", "Start a new chat", "new_session"),
    ("Stop answer", "Stop the answer being written (Esc)", "stop"),
    ("Regenerate answer", "Write the last answer again", "regenerate"),
    ("Edit last message", "Edit your last message and answer it again", "edit_last"),
    ("Copy last answer", "Copy the last answer to the clipboard", "copy_last"),
    ("Toggle chat list", "Show or hide the saved chats", "toggle_sidebar"),
    ("Search chats", "Find a saved chat by its words", "search_sessions"),
    ("Rename chat", "Give this chat a new title", "rename_session"),
    ("Delete chat", "Delete this chat (asks first)", "delete_session"),
    ("Export chat as Markdown", "Write this chat to a .md file", "export_session('markdown')"),
    ("Export chat as JSON", "Write this chat to a .json file", "export_session('json')"),
    ("Settings", "Model precision, sampling, prompts, memory, theme", "settings"),
    ("Help", "Every key", "help"),
)


def chat_commands(chat: ChatScreen) -> Iterator[SystemCommand]:
    for title, help_text, action in CHAT_COMMANDS:
        yield SystemCommand(title, help_text, partial(chat.run_action, action))


class SessionPicker(Provider):
    """``Open chat: <title>`` for every saved chat, best match first."""

    @property
    def chat_app(self) -> LlamaChatApp:
        return self.app  # type: ignore[return-value]

    def _sessions(self):
        return self.chat_app.controller.store.list_sessions(limit=SESSION_PICKER_LIMIT)

    async def discover(self) -> Hits:
        for session in self._sessions()[:10]:
            yield DiscoveryHit(
                f"Open chat: {session.title}",
                partial(self.chat_app.open_session, session.id),
                help="Recent chat",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for session in self._sessions():
            text = f"Open chat: {session.title}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(self.chat_app.open_session, session.id),
                    help=f"Last used {session.updated_at:%Y-%m-%d %H:%M}",
                )
