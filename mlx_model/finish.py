"""Why generation ended, spelled once for the engine and everything above it."""

from __future__ import annotations

from enum import StrEnum


class FinishReason(StrEnum):
    STOP = "stop"
    """A stop token: the answer is complete."""
    LENGTH = "length"
    """The max-tokens limit: the answer is cut off."""
    CANCELLED = "cancelled"
    """The cancel flag was set: what was written is kept."""
    ERROR = "error"
    """Not the engine's: an answer that could not be written (too long for the context, …)."""
