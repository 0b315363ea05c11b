"""Whether a tool call may run: the registry's own rule, then the user's answer for this chat."""

from __future__ import annotations

from collections.abc import Callable

from llama_chat.tools import Approval, ToolCall, ToolRegistry


class ToolApprovals:
    """Asks the user about each tool call that needs it, and remembers "always" for the chat."""

    def __init__(self, ask: Callable[[ToolCall], Approval]) -> None:
        self._ask = ask
        self._always_allowed: set[str] = set()

    def forget(self) -> None:
        """A different chat is open: its "always" answers start afresh."""
        self._always_allowed.clear()

    def approve(self, call: ToolCall, tools: ToolRegistry | None) -> bool:
        if tools is not None and not tools.needs_approval(call):
            return True
        if call.name in self._always_allowed:
            return True
        answer = self._ask(call)
        if answer == Approval.ALWAYS:
            self._always_allowed.add(call.name)
            return True
        return answer == Approval.ONCE
