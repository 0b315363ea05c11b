"""Whether a chat offers tools, and what a chat remembers of the settings it was written with.

Tools are off unless the user turns them on (the ``tools`` setting): their descriptions make
every prompt about 500 tokens longer. A chat remembers its choice, so reopening it offers the
same tools whatever the setting is now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_chat.settings import SAMPLING_KEYS, Settings


def offers_tools(
    forced: bool | None, settings: Settings, saved: Mapping[str, Any] | None = None
) -> bool:
    """``forced`` when given (a front end's flag), else the chat's saved choice, else the
    setting."""
    if forced is not None:
        return forced
    return bool((saved or {}).get("tools", settings.tools))


def session_settings(settings: Settings, tools: bool) -> dict[str, Any]:
    """What a chat remembers of the settings it was written with."""
    remembered = {key: getattr(settings, key) for key in (*SAMPLING_KEYS, "max_tokens")}
    return {**remembered, "tools": tools}
