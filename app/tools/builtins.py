"""The built-in offline tools, and the registry that offers them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from llama_chat.tools.calculator import calculator_tool
from llama_chat.tools.files import read_text_file_tool
from llama_chat.tools.registry import Tool, ToolError, ToolRegistry


def default_registry(allowed_folders: Sequence[Path]) -> ToolRegistry:
    """The built-in offline tools; `read_text_file` reads only inside `allowed_folders`."""
    return ToolRegistry(
        [
            datetime_tool(),
            calculator_tool(),
            count_words_tool(),
            read_text_file_tool(allowed_folders),
        ]
    )


def datetime_tool(clock: Callable[[], datetime] | None = None) -> Tool:
    """`get_current_datetime`; `clock` returns an aware datetime (tests pass a fixed one)."""
    now = clock or (lambda: datetime.now(UTC))

    def run(arguments: dict[str, Any]) -> dict[str, Any]:
        zone_name = arguments.get("timezone")
        moment = now()
        if zone_name:
            try:
                local = moment.astimezone(ZoneInfo(zone_name))
            except (ZoneInfoNotFoundError, ValueError, OSError) as error:
                raise ToolError(
                    f"Unknown time zone {zone_name!r}; use an IANA name like 'Europe/Paris'."
                ) from error
        else:
            local = moment.astimezone()  # the computer's own time zone
            zone_name = local.tzname() or "local"
        return {
            "datetime": local.isoformat(timespec="seconds"),
            "weekday": local.strftime("%A"),
            "timezone": zone_name,
        }

    return Tool(
        name="get_current_datetime",
        description="Get the current date, time and weekday, in the user's time zone or another.",
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA time zone such as 'Europe/Paris'; omit for local time.",
                }
            },
            "required": [],
        },
        run=run,
    )


def count_words(text: str) -> dict[str, int]:
    """Words (runs of non-whitespace), characters and lines of a text."""
    return {"words": len(text.split()), "characters": len(text), "lines": len(text.splitlines())}


def count_words_tool() -> Tool:
    return Tool(
        name="count_words",
        description="Count the words, characters and lines of a text.",
        parameters={
            "type": "object",
            "properties": {"text": {"type": "string", "description": "The text to count."}},
            "required": ["text"],
        },
        run=lambda arguments: count_words(arguments["text"]),
    )
