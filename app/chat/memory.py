"""Rolling memory: the turns a long chat drops from the model's window, kept as a short note.

A chat that outgrows its context drops its oldest turns in blocks (Conversation.fit_prompt).
With rolling memory on, each dropped block is summarised together with the note so far into a
new note of a few sentences, which the model reads after the system prompt. The note changes
only when a block drops, and a drop re-reads the whole window anyway, so the turns between
drops still reuse the cached prefix. The summary is an ordinary map-reduce summary
(chat/summarize.py) of a transcript, run on the engine thread inside the turn that drops; one
that fails is told in one line and tried again at the next turn.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import mlx_model
from llama_chat.chat.conversation import ChatMessage, Conversation, Emit
from llama_chat.chat.summarize import SummaryError, count_tokens, summarize
from llama_chat.events import Notice, TurnFinished
from llama_chat.store.sessions import SessionStore

NOTE_TOKENS = 120
"""Longest note, in tokens: a few sentences, whatever the number of turns it covers."""
NOTE_LABEL = "Earlier in this chat (a summary of turns no longer shown):"
LABEL_TOKENS = 32
"""Prompt tokens a window with memory keeps free besides the note: its label, the seam."""
NOTE_INSTRUCTION = (
    "Above is the beginning of a chat between a user and an assistant. Write a note of at most "
    "three sentences that keeps what the assistant must remember: facts about the user, names, "
    "numbers, decisions and open questions. Write only the note."
)
SUMMARISING = "Earlier turns of this chat no longer fit the context: summarising them into a note."
FAILED = "The dropped turns were not summarised (tried again next turn):"

SaveNote = Callable[[int, str], None]
"""Saves a note under the id of the message the window starts with after it."""
Summarizer = Callable[..., TurnFinished]
"""chat/summarize.py's ``summarize`` or anything called like it."""


class RollingMemory:
    """The note on ``messages[:upto]`` of a conversation; see the module docstring."""

    def __init__(
        self,
        note: str = "",
        upto: int = 0,
        save: SaveNote | None = None,
        *,
        note_tokens: int = NOTE_TOKENS,
        summarizer: Summarizer = summarize,
    ) -> None:
        self.note = note
        self.upto = upto
        self.save = save
        self.note_tokens = note_tokens
        self.summarizer = summarizer
        self._failed_turn: ChatMessage | None = None
        """The user message of the turn whose summary failed: not retried before the next."""
        self.reserve = note_tokens + LABEL_TOKENS
        self.last_summary: TurnFinished | None = None
        """How the latest note was written: its stats say what it read and how fast."""

    @classmethod
    def restored(
        cls, messages: list[ChatMessage], notes: dict[int, str], save: SaveNote | None = None
    ) -> RollingMemory:
        """The latest of a saved chat's ``notes`` (by message id) that this branch reaches."""
        for index in range(len(messages) - 1, 0, -1):
            note = notes.get(messages[index].id)
            if note is not None:
                return cls(note, index, save)
        return cls(save=save)

    def system_text(self, system_prompt: str, window_start: int) -> str:
        """The system message of a window starting at ``window_start``: the note follows the
        system prompt once turns were dropped (the whole chat in view needs none)."""
        if not self.note or window_start == 0:
            return system_prompt
        return "\n\n".join(p for p in (system_prompt, f"{NOTE_LABEL} {self.note}") if p)

    def catch_up(self, conversation: Conversation, emit: Emit, cancel: threading.Event) -> bool:
        """Summarise the turns dropped since the note into a new note; True if it changed.

        The summary does not stream (it is not the answer): the user sees a Notice, then the
        answer. A failed or cancelled summary keeps the old note and ``upto``, so the next turn
        summarises the same turns again (with any dropped since); a failure is told in one
        line and not retried within its turn (a tool round), so no answer waits for more than
        one summary.
        """
        end = conversation.window_start
        turn = _turn_of(conversation)
        if end <= self.upto or (turn is not None and turn is self._failed_turn):
            return False
        emit(Notice(SUMMARISING))
        document = self._document(conversation, end)
        settings = replace(conversation.settings, max_tokens=self.note_tokens)
        try:
            finished = self.summarizer(
                conversation.model,
                conversation.tokenizer,
                document,
                instruction=NOTE_INSTRUCTION,
                settings=settings,
                emit=lambda event: None,  # the note is not the answer
                cancel=cancel,
                date_string=conversation.date_string,
            )
            failure = _failure(finished)
        except SummaryError as exc:
            finished, failure = None, str(exc)
        self.last_summary = finished
        if failure is not None:
            self._failed_turn = turn
            emit(Notice(f"{FAILED} {' '.join(failure.split())}", "warning"))
        if failure is not None or finished.finish_reason == "cancelled":
            return False
        self.upto = end
        self.note = _bounded(conversation.tokenizer, finished.text.strip(), self.note_tokens)
        key = conversation.messages[end].id
        if self.save is not None and key is not None:
            self.save(key, self.note)
        return True

    def _document(self, conversation: Conversation, end: int) -> str:
        """The note so far and a transcript of the turns dropped since; of a long stretch (a
        chat reopened with memory newly on) only the latest context's worth."""
        budget = conversation.settings.context_limit
        lines: list[str] = []
        for message in reversed(conversation.messages[self.upto : end]):
            line = _transcript_line(message)
            budget -= count_tokens(conversation.tokenizer, line)
            if budget < 0 and lines:
                break
            lines.append(line)
        earlier = [f"Note on the chat before this part: {self.note}"] if self.note else []
        return "\n\n".join([*earlier, *reversed(lines)])


def _turn_of(conversation: Conversation) -> ChatMessage | None:
    """The user message a turn answers: the tool rounds of one turn share it."""
    return next((m for m in reversed(conversation.messages) if m.role == "user"), None)


def _failure(finished: TurnFinished) -> str | None:
    """Why a finished summary gives no note (None: it gives one, or it was cancelled)."""
    if finished.finish_reason == "error":
        return finished.error or "the model stopped with an error"
    if finished.finish_reason != "cancelled" and not finished.text.strip():
        return "the summary came out empty"
    return None


def _bounded(tokenizer: mlx_model.Tokenizer, note: str, tokens: int) -> str:
    """``note`` cut to ``tokens`` tokens as the prompt will encode it: decoded text can encode
    to more tokens than were generated (a word split differently), and the reserve is fixed."""
    ids = tokenizer.encode(note)
    while len(ids) > tokens:
        note = tokenizer.decode(ids[:tokens]).strip()
        ids = tokenizer.encode(note)
    return note


def _transcript_line(message: ChatMessage) -> str:
    speaker = {"user": "User", "assistant": "Assistant", "ipython": "Tool result"}[message.role]
    content = message.content
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    if message.tool_calls:
        text = (text + " " + json.dumps(message.tool_calls, ensure_ascii=False)).strip()
    return f"{speaker}: {text}"


def sync_memory(
    conversation: Conversation, enabled: bool, sessions: SessionStore, session_id: int | None
) -> None:
    """Give ``conversation`` the memory the settings ask for before a turn: the saved chat's
    latest note on this branch (read again each turn: a branch switch or a reload may have
    replaced the messages), or none when rolling memory is off."""
    if not enabled:
        conversation.memory = None
        return
    if session_id is None:
        conversation.memory = RollingMemory()
        return
    notes = sessions.memory_notes(session_id)
    save = partial(sessions.save_memory_note, session_id)
    conversation.memory = RollingMemory.restored(conversation.messages, notes, save)
