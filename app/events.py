"""What the core tells a front end (the TUI, the one-shot CLI) while it works.

Plain dataclasses, emitted from the engine thread through a callback; a front end hands them
to its own thread (Textual: ``App.call_from_thread``) before touching any widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from llama_chat.status import MessageStatus
from llama_chat.tools import ToolCall, ToolResult
from mlx_model import FinishReason, ModelConfig
from mlx_model.generate import GenerationStats

if TYPE_CHECKING:
    from llama_chat.store.documents import StoredDocument
    from llama_chat.store.sessions import SessionInfo, StoredMessage


class Job(StrEnum):
    """The kinds of work the controller runs on the engine thread."""

    LOAD = "load the model"
    NEW_SESSION = "start a new chat"
    OPEN_SESSION = "open the chat"
    SEND = "answer"
    REGENERATE = "answer again"
    EDIT = "answer the edited message"
    SETTINGS = "apply the settings"
    RENAME = "rename the chat"
    DELETE = "delete the chat"
    EXPORT = "export the chat"
    SAVE_CACHE = "save the KV cache"
    SAVE_DRAFT = "save the unsent message"
    SUMMARIZE = "summarise"
    CLOSE = "close"
    CONTINUE = "continue the answer"
    ATTACH = "attach the document"
    SUMMARIZE_CHAT = "summarise the chat"
    RESUMMARIZE = "summarise the document again"
    BRANCH = "show the other branch"
    READ_CHAT = "read the chat ahead of its next message"


@dataclass(frozen=True)
class JobFailed:
    """A job raised: ``message`` is one line a person can read ("Could not answer: ...")."""

    job: Job
    message: str


@dataclass(frozen=True)
class JobStarted:
    """A job that makes the front end busy (it writes an answer, or attaches a document) was
    asked for. Emitted on the thread that asked, before the job is queued, so that a front end
    is busy from that moment until the job's JobFinished."""

    job: Job
    session_id: int | None
    """The chat open when the job was asked for (None: a new chat, not saved yet)."""


@dataclass(frozen=True)
class JobFinished:
    """Every job ends with exactly one of these, after its other events (``ok`` False: failed)."""

    job: Job
    ok: bool


@dataclass(frozen=True)
class ModelLoading:
    quant: str
    source: str


@dataclass(frozen=True)
class DownloadProgressEvent:
    quant: str
    filename: str
    bytes_done: int
    bytes_total: int
    rate_bps: float
    eta_s: float | None


@dataclass(frozen=True)
class ModelLoaded:
    quant: str
    path: Path
    load_s: float
    weights_gb: float
    demo: bool = False
    config: ModelConfig | None = None


@dataclass(frozen=True)
class ModelLoadFailed:
    quant: str
    message: str


@dataclass(frozen=True)
class Notice:
    """Something the user should read (a recovered database, a settings problem)."""

    message: str
    severity: str = "information"  # "information" | "warning" | "error"


@dataclass(frozen=True)
class PrefillProgress:
    done: int
    total: int


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ContextTrimmed:
    dropped_messages: int
    prompt_tokens: int
    context_limit: int


@dataclass(frozen=True)
class ToolCallRequested:
    call: ToolCall


@dataclass(frozen=True)
class ToolResultReady:
    result: ToolResult
    approved: bool


@dataclass(frozen=True)
class SummaryProgress:
    stage: str  # "map" | "reduce"
    done: int
    total: int
    tokens_read: int = 0
    """Of the parts' prompts, tokens read so far (the map stage reads before any part is done)."""
    tokens_total: int = 0


@dataclass
class TurnStats(GenerationStats):
    """The engine's numbers for one turn, plus how full the context is after it."""

    context_used: int = 0
    context_limit: int = 0


@dataclass(frozen=True)
class TurnFinished:
    finish_reason: FinishReason
    text: str
    stats: TurnStats = field(default_factory=TurnStats)
    error: str | None = None
    user_id: int | None = None
    """The saved user message the answer replies to (None: not saved, or no user message)."""
    answer_id: int | None = None
    """The saved answer (None: nothing was saved)."""
    reply_id: int | None = None
    """The first message saved in reply: the answer itself, or the tool call it began with."""

    @property
    def status(self) -> MessageStatus:
        """The status the answer is saved and shown with."""
        return MessageStatus.from_finish_reason(self.finish_reason)


@dataclass(frozen=True)
class SessionOpened:
    session: SessionInfo | None
    """None for a new chat that has no row yet (it gets one with its first message)."""
    messages: list[StoredMessage]
    cached_tokens: int = 0
    """Tokens restored from the chat's saved KV cache (0 when there was none)."""
    documents: dict[int, StoredDocument] = field(default_factory=dict)
    """The documents ``messages`` carry, by message id (read with them: a front end shows
    them without reading the store again)."""


@dataclass(frozen=True)
class ContextCounted:
    """The open chat's size, counted as soon as it opens (or the model loads), so the context
    meter shows it before the chat's next answer."""

    tokens: int
    """The prompt the model would read now: the system prompt and the turns that still fit."""
    context_limit: int


@dataclass(frozen=True)
class TurnStarted:
    session_id: int
    user_message_id: int | None


@dataclass(frozen=True)
class MessageRefused:
    """The user's message was not sent: it cannot fit the context. It is in neither the
    conversation nor the store; ``text`` goes back to the user and ``reason`` says why."""

    text: str
    reason: str


@dataclass(frozen=True)
class SessionsChanged:
    """The list of saved chats changed (renamed, deleted, imported)."""


@dataclass(frozen=True)
class Exported:
    path: Path


@dataclass(frozen=True)
class DocumentProgress:
    """A long text is being summarised: part ``done`` of ``total`` of a stage is done."""

    name: str
    stage: str  # "map" | "reduce"
    done: int
    total: int
    tokens_per_s: float
    tokens_read: int = 0
    """Of the parts' prompts, tokens read so far; with ``tokens_total``, progress before the
    first part is done."""
    tokens_total: int = 0
    seconds_left: float | None = None
    """Until the parts are read, at the rate so far (None until there is a rate)."""


@dataclass(frozen=True)
class DocumentAdded:
    """A document was attached to the open chat and saved with it."""

    document: StoredDocument


@dataclass(frozen=True)
class SummaryDone:
    """A summary asked for from the palette (of the chat, or a document again) was written."""

    what: str
    text: str


@dataclass(frozen=True)
class BranchSwitched:
    """Another sibling is shown at a fork: ``messages`` is the chat's new shown path."""

    session_id: int
    messages: list[StoredMessage]
    selected_id: int
    """The sibling now shown; the path from it down is what changed."""
    cached_tokens: int = 0
    """Tokens the KV cache kept: the history up to the fork, which is not prefilled again."""
    documents: dict[int, StoredDocument] = field(default_factory=dict)
    """The documents ``messages`` carry, by message id (as SessionOpened.documents)."""


Event = (
    ModelLoading
    | DownloadProgressEvent
    | ModelLoaded
    | ModelLoadFailed
    | Notice
    | PrefillProgress
    | TextDelta
    | ContextTrimmed
    | ToolCallRequested
    | ToolResultReady
    | SummaryProgress
    | TurnFinished
    | SessionOpened
    | ContextCounted
    | TurnStarted
    | MessageRefused
    | SessionsChanged
    | Exported
    | JobFailed
    | JobStarted
    | JobFinished
    | DocumentProgress
    | DocumentAdded
    | SummaryDone
    | BranchSwitched
)
