"""Command palette entries: every key binding of the chat screen, the actions that have no key,
and a picker for saved chats.

Titles and help texts of keyed actions come from their Bindings (description, tooltip), so the
palette, the footer and the help screen say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.app import SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from llama_chat.store.sessions import SessionInfo
from llama_chat.tui.plain import plain, plain_highlight
from llama_chat.tui.state import chat_app

SESSION_PICKER_LIMIT = 200

UNBOUND_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Search chats", "Find a saved chat by its words", "search_sessions"),
    ("Rename chat", "Give this chat a new title", "rename_session"),
    ("Delete chat", "Delete this chat (asks first)", "delete_session"),
    ("Export chat as Markdown", "Write this chat to a .md file", "export_session('markdown')"),
    ("Export chat as JSON", "Write this chat to a .json file", "export_session('json')"),
    ("Summarise this chat", "Write a summary of this whole chat as an answer", "summarise_chat"),
    (
        "Summarise document again…",
        "Summarise a document again with an instruction (the one under the cursor, else the last)",
        "resummarise_document",
    ),
)
"""(title, help, screen action) of the chat screen's actions that have no key of their own."""


def chat_commands(screen: Screen) -> Iterator[SystemCommand]:
    """Every action of ``screen``: its Bindings first, then the unbound ones."""
    for binding in screen.BINDINGS:
        if isinstance(binding, Binding) and binding.description:
            help_text = binding.tooltip or binding.description
            yield SystemCommand(
                binding.description, help_text, partial(screen.run_action, binding.action)
            )
    for title, help_text, action in UNBOUND_COMMANDS:
        yield SystemCommand(title, help_text, partial(screen.run_action, action))


class SessionPicker(Provider):
    """``Open chat: <title>`` for every saved chat, best match first."""

    def _sessions(self) -> list[SessionInfo]:
        return chat_app(self.app).controller.queries.list_sessions(limit=SESSION_PICKER_LIMIT)

    async def _open(self, session_id: int) -> None:
        await self.screen.run_action(f"open_session({session_id})")

    async def discover(self) -> Hits:
        for session in self._sessions()[:10]:
            yield DiscoveryHit(
                plain(f"Open chat: {session.title}"),
                partial(self._open, session.id),
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
                    plain_highlight(matcher, text),
                    partial(self._open, session.id),
                    help=f"Last used {session.updated_at:%Y-%m-%d %H:%M}",
                )
