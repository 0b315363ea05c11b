"""A message's status, spelled once: the store, the conversation and the screens all use it."""

from __future__ import annotations

from enum import StrEnum

from mlx_model import FinishReason


class MessageStatus(StrEnum):
    STREAMING = "streaming"
    """Being written; a row still in this state at startup was cut short by a crash."""
    COMPLETE = "complete"
    CUT_OFF = "cut_off"
    """The answer reached the max-tokens limit."""
    STOPPED = "stopped"
    """The user stopped the answer; the partial text is kept."""
    ERROR = "error"
    INTERRUPTED = "interrupted"
    """The app died while it was streaming (found on the next start)."""

    @classmethod
    def from_finish_reason(cls, finish_reason: FinishReason) -> MessageStatus:
        """The status of an answer that ended for the engine's ``finish_reason``."""
        return _FROM_FINISH.get(finish_reason, cls.ERROR)


_FROM_FINISH = {
    FinishReason.STOP: MessageStatus.COMPLETE,
    FinishReason.LENGTH: MessageStatus.CUT_OFF,
    FinishReason.CANCELLED: MessageStatus.STOPPED,
}
