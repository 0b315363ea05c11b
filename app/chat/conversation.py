"""A conversation with the model: messages in, prompt tokens out, answers streamed back.

Each turn renders the WHOLE history with the Llama 3.2 template and encodes it; the KV cache
keeps its longest common prefix with those tokens and only the rest is prefilled. (Templating
only the newest message, as some chat loops do, drifts from what the model was trained on.)
The template date is fixed when the conversation starts, so tomorrow's re-render of the same
history yields the same tokens and the cache stays valid.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Protocol

import mlx_model
from llama_chat.chat.template import (
    encode_fixed_start,
    encode_generation_prompt,
    encode_message,
    encode_prompt,
    format_date,
)
from llama_chat.chat.window import window_starts
from llama_chat.events import (
    ContextTrimmed,
    Event,
    PrefillProgress,
    TextDelta,
    ToolCallRequested,
    ToolResultReady,
    TurnFinished,
    TurnStats,
)
from llama_chat.settings import Settings, sampling_params
from llama_chat.status import MessageStatus
from llama_chat.store.records import StoredMessage
from llama_chat.tools import ToolCall, ToolRegistry, ToolResult, parse_tool_calls
from mlx_model import FinishReason

MAX_TOOL_ROUNDS = 4
DECLINED = "The user declined to run this tool."

Emit = Callable[[Event], None]
Approve = Callable[[ToolCall], bool]


class ContextOverflowError(ValueError):
    """Even the newest user turn alone does not fit the context limit."""


@dataclass
class ChatMessage:
    role: str  # "user" | "assistant" | "ipython"
    content: Any
    tool_calls: list[dict] | None = None
    status: MessageStatus = MessageStatus.COMPLETE
    id: int | None = None  # row id once saved

    @classmethod
    def from_stored(cls, stored: StoredMessage) -> ChatMessage:
        content: Any = stored.content
        if stored.role == "ipython":
            content = _maybe_json(stored.content)  # a tool's dict result was saved as JSON
        return cls(
            stored.role, content, tool_calls=stored.tool_calls, status=stored.status, id=stored.id
        )

    def to_template(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message


class Memory(Protocol):
    """Rolling memory (chat/memory.py): a note on the turns dropped from the window, read with
    the system prompt; ``reserve`` prompt tokens are kept free for it."""

    reserve: int

    def system_text(self, system_prompt: str, window_start: int) -> str: ...
    def catch_up(self, conversation: Conversation, emit: Emit, cancel: threading.Event) -> bool: ...


@dataclass(frozen=True)
class GenerationSettings:
    sampling: mlx_model.SamplingParams = field(default_factory=mlx_model.SamplingParams)
    max_tokens: int = 1024
    context_limit: int = 8192
    prompt_lookup: bool = True
    overflow_block: float = 1 / 3
    """Share of the context a chat that outgrows it drops at once: each drop re-reads the
    window, so larger blocks re-read less often but leave the model less of the chat. A third
    keeps a 60-turn chat through an 8k window near 1.3 tokens prefilled per token it grew by
    (a quarter: 1.8; see scripts/bench_overflow.py)."""

    @classmethod
    def from_settings(cls, s: Settings) -> GenerationSettings:
        """The generation part of the user's settings."""
        return cls(sampling_params(s), s.max_tokens, s.context_limit, s.prompt_lookup)


class Conversation:
    def __init__(
        self,
        model: mlx_model.Model,
        tokenizer: mlx_model.Tokenizer,
        *,
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        tools: ToolRegistry | None = None,
        date_string: str | None = None,
        messages: list[ChatMessage] | None = None,
        cache: mlx_model.KVCache | None = None,
        kv_bits: int | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        self.settings = settings or GenerationSettings()
        self.tools = tools
        self.date_string = date_string or format_date(date.today())
        self.messages: list[ChatMessage] = list(messages or [])
        self.cache = cache if cache is not None else model.make_cache(kv_bits=kv_bits)
        # Index of the first message the model still sees; older turns were dropped to fit.
        self.window_start = 0
        self.memory: Memory | None = None  # rolling memory: a note on the dropped turns
        self.last_stats = TurnStats()
        self._token_counts: dict[int, tuple[ChatMessage, int]] = {}

    def use_settings(self, settings: GenerationSettings, tools: ToolRegistry | None) -> None:
        """New settings for the next turns. Where they change the room the window has (the
        context limit, the answer's length), its start is fitted afresh: it may move back."""
        room = (settings.context_limit, settings.max_tokens, settings.overflow_block)
        old = (self.settings.context_limit, self.settings.max_tokens, self.settings.overflow_block)
        if room != old:
            self.window_start = 0
        self.settings, self.tools = settings, tools

    # -- editing the history ---------------------------------------------------------------

    def add_user(self, text: str) -> ChatMessage:
        message = ChatMessage("user", text)
        self.messages.append(message)
        return message

    def try_user_turn(self, text: str, *, replace_last: bool = False) -> ChatMessage:
        """Add the newest user message (or, with ``replace_last``, edit the last one) if the
        prompt then fits the context. If it does not, the history is left as it was and
        ContextOverflowError says why: a message the model cannot read must not stay in the
        history, where it would push older turns out of view on the next turn."""
        before = (list(self.messages), self.window_start)
        message = self.edit_last_user(text) if replace_last else self.add_user(text)
        try:
            self.fit_prompt()
        except ContextOverflowError:
            self.messages, self.window_start = before
            raise
        return message

    def last_user_index(self) -> int:
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].role == "user":
                return i
        raise ValueError("the conversation has no user message")

    def drop_answer(self) -> list[ChatMessage]:
        """Remove everything after the last user message (for regenerate); returns it."""
        cut = self.last_user_index() + 1
        removed, self.messages = self.messages[cut:], self.messages[:cut]
        return removed

    def edit_last_user(self, text: str) -> ChatMessage:
        """Replace the last user message (and the answer to it) with ``text``."""
        cut = self.last_user_index()
        self.messages = self.messages[:cut]
        self.window_start = min(self.window_start, cut)
        return self.add_user(text)

    def last_answer(self) -> str:
        """The text of the newest answer that has text ("" if none)."""
        for message in reversed(self.messages):
            if message.role == "assistant" and isinstance(message.content, str) and message.content:
                return message.content
        return ""

    # -- prompt ------------------------------------------------------------------------------

    def template_messages(
        self, start: int | None = None, end: int | None = None
    ) -> list[dict[str, Any]]:
        first = self.window_start if start is None else start
        rendered = [m.to_template() for m in self.messages[first:end]]
        system = self.memory.system_text(self.system_prompt, first) if self.memory else None
        return [{"role": "system", "content": system or self.system_prompt}, *rendered]

    def encode(self, start: int | None = None, add_generation_prompt: bool = True) -> list[int]:
        first = self.window_start if start is None else start
        return self._encode_window(first, len(self.messages), add_generation_prompt)

    def _encode_window(self, first: int, end: int, add_generation_prompt: bool) -> list[int]:
        return encode_prompt(
            self.tokenizer,
            self.template_messages(first, end),
            tools=self.tools.specs() if self.tools else None,
            add_generation_prompt=add_generation_prompt,
            date_string=self.date_string,
        )

    def fixed_start(self) -> list[int]:
        """The ids every prompt of this chat starts with, whichever turns the window holds."""
        return encode_fixed_start(
            self.tokenizer,
            self.system_prompt,
            tools=self.tools.specs() if self.tools else None,
            date_string=self.date_string,
        )

    def fit_prompt(
        self, cancel: threading.Event | None = None, *, reserve: int = 0
    ) -> tuple[list[int], int] | None:
        """Prompt ids that leave room for ``max_tokens`` (and ``reserve`` more, where some
        start can); drops the oldest turns if needed. ``reserve`` keeps room for a message not
        yet written (a chat read ahead of it), so that it does not move the window again.

        Returns (ids, number of messages dropped now), or None when ``cancel`` was set. The
        system prompt and the newest user turn are never dropped. Each message is counted once
        (and remembered), so reopening a chat of thousands of turns costs one pass.

        The window start moves in blocks (chat/window.py), as moving it makes the whole window
        be read again. For that reason it never moves back while the chat is open, even where
        a shorter turn would let it (a regenerate, an edit): the cache holds it as it starts.
        """
        limit = self.settings.context_limit
        budget = limit - self.settings.max_tokens - (self.memory.reserve if self.memory else 0)
        last_user = self.last_user_index()
        counts = [self._message_tokens(m) for m in self.messages]
        # after[i]: tokens of messages i.. when they follow the first message of the window.
        after = [0] * (len(self.messages) + 1)
        for i in range(len(self.messages) - 1, 0, -1):
            after[i] = after[i + 1] + counts[i]
        answer_header = len(encode_generation_prompt(self.tokenizer))

        def needed(first: int) -> int:
            head = len(self._encode_window(first, first + 1, add_generation_prompt=False))
            return head + after[first + 1] + answer_header

        block = max(1, int(limit * self.settings.overflow_block))
        roles = [m.role for m in self.messages]
        starts = window_starts(roles, counts, block, since=self.window_start)
        # With room kept, if any; else without it; the newest user turn alone is the last resort.
        tries = [(s, reserve) for s in starts] if reserve else []
        for first, kept in (*tries, *((s, 0) for s in starts), (last_user, 0)):
            if cancel is not None and cancel.is_set():
                return None
            if needed(first) + kept <= budget:
                break
        else:
            raise ContextOverflowError(
                f"the newest message needs {needed(last_user)} prompt tokens plus "
                f"{self.settings.max_tokens} for the answer, more than the context limit of "
                f"{limit} tokens; shorten it, lower max tokens, or raise the context limit"
            )
        dropped = max(0, first - self.window_start)
        self.window_start = first
        return self.encode(first), dropped

    def _message_tokens(self, message: ChatMessage) -> int:
        # Keyed by identity; holding the message keeps its id from being reused.
        cached = self._token_counts.get(id(message))
        if cached is None or cached[0] is not message:
            cached = (message, len(encode_message(self.tokenizer, message.to_template())))
            self._token_counts[id(message)] = cached
        return cached[1]

    def context_used(self) -> int:
        return self.cache.length

    def history_tokens(self) -> int:
        """Tokens of the prompt the model would read now: the system prompt and the turns that
        still fit (the oldest drop out first, as for the next answer). Each message is counted
        once and remembered, so the next answer does not count them again."""
        if not any(m.role == "user" for m in self.messages):
            # A new chat: its system prompt (tool descriptions go into the first user message).
            system = [{"role": "system", "content": self.system_prompt}]
            ids = encode_prompt(
                self.tokenizer, system, add_generation_prompt=False, date_string=self.date_string
            )
            return len(ids)
        try:
            fitted = self.fit_prompt()
        except ContextOverflowError:  # the newest message alone is too long: it is all it reads
            return len(self.encode(self.last_user_index()))
        return len(fitted[0]) if fitted is not None else 0

    # -- generating --------------------------------------------------------------------------

    def respond(
        self,
        emit: Emit,
        *,
        cancel: threading.Event | None = None,
        approve: Approve | None = None,
    ) -> TurnFinished:
        """Answer the last user message, running approved tool calls, and emit events as it goes."""
        cancel = cancel or threading.Event()
        text = ""
        for _ in range(MAX_TOOL_ROUNDS + 1):
            try:
                fitted = self.fit_prompt(cancel)
            except ContextOverflowError as exc:
                return self._finish(emit, FinishReason.ERROR, "", error=str(exc))
            if fitted is None:
                return self._finish(emit, FinishReason.CANCELLED, "")
            ids, dropped = fitted
            if self.memory is not None and self.memory.catch_up(self, emit, cancel):
                ids = self.encode()  # the note changed with the window: read it again
            if dropped:
                emit(ContextTrimmed(dropped, len(ids), self.settings.context_limit))
            finish, text, stats = self._stream(ids, emit, cancel)
            calls = parse_tool_calls(text) if self.tools and finish == FinishReason.STOP else []
            if not calls:
                status = MessageStatus.from_finish_reason(finish)
                self.messages.append(ChatMessage("assistant", text, status=status))
                return self._finish(emit, finish, text, stats=stats)
            for call in calls:
                # The template takes one call per assistant message: one message + result each.
                self.messages.append(ChatMessage("assistant", "", tool_calls=[call.as_dict()]))
                emit(ToolCallRequested(call))
                approved = approve(call) if approve is not None else False
                if approved:
                    result = self.tools.execute(call)
                else:
                    result = ToolResult(call.name, DECLINED, is_error=True)
                self.messages.append(ChatMessage("ipython", result.content))
                emit(ToolResultReady(result, approved))
            if cancel.is_set():
                return self._finish(emit, FinishReason.CANCELLED, "", stats=stats)
        too_many = f"stopped after {MAX_TOOL_ROUNDS} rounds of tool calls"
        return self._finish(emit, FinishReason.ERROR, text, error=too_many)

    def _stream(
        self, ids: list[int], emit: Emit, cancel: threading.Event
    ) -> tuple[FinishReason, str, TurnStats]:
        parts: list[str] = []
        final = None
        for event in mlx_model.stream_generate(
            self.model,
            self.tokenizer,
            ids,
            cache=self.cache,
            sampling=self.settings.sampling,
            max_tokens=self.settings.max_tokens,
            cancel=cancel,
            on_prefill_progress=lambda done, total: emit(PrefillProgress(done, total)),
            prompt_lookup=self.settings.prompt_lookup,
        ):
            if event.text:
                parts.append(event.text)
                emit(TextDelta(event.text))
            final = event
        stats = TurnStats(
            **asdict(final.stats),
            context_used=self.cache.length,
            context_limit=self.settings.context_limit,
        )
        self.last_stats = stats
        return final.finish_reason, "".join(parts), stats

    def _finish(
        self,
        emit: Emit,
        reason: FinishReason,
        text: str,
        *,
        stats: TurnStats | None = None,
        error: str | None = None,
    ) -> TurnFinished:
        stats = stats or replace(
            self.last_stats,
            context_used=self.cache.length,
            context_limit=self.settings.context_limit,
        )
        finished = TurnFinished(reason, text, stats, error)
        emit(finished)
        return finished


def _maybe_json(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict | list) else text
