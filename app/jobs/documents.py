"""Engine-thread work on documents: attaching one to the open chat, and summaries on request.

A document the context can hold is read whole: it becomes a user message "Document NAME:" and
the text, and the next question builds on it. A longer one is summarised map-reduce
(chat/summarize.py) first, with progress events, and the model reads the summary instead, told
so. Nothing is saved until the summary is done: cancelling (the controller's cancel flag) or a
failure leaves the chat as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from llama_chat.chat.conversation import ChatMessage, ContextOverflowError, Conversation
from llama_chat.chat.summarize import count_tokens, summarize
from llama_chat.documents import document_fits
from llama_chat.events import (
    DocumentAdded,
    DocumentProgress,
    Event,
    Notice,
    SummaryDone,
    SummaryProgress,
    TextDelta,
    TurnFinished,
)
from llama_chat.jobs.chat import ChatJobs, last_saved_id
from mlx_model import FinishReason

SUMMARY_INSTRUCTION = "Write a concise summary of the whole document."
CHAT_INSTRUCTION = (
    "This document is the transcript of a conversation between a user and an assistant. "
    "Summarise what was asked and what was concluded."
)
PROGRESS_INTERVAL_S = 0.2


def framed_document(name: str, text: str) -> str:
    """What the model reads of a document it can read whole."""
    return f"Document {name}:\n{text}"


def framed_summary(name: str, tokens: int, summary: str) -> str:
    """What the model reads of a document too long for the context."""
    return f"Summary of {name} (too long to read whole: {tokens:,} tokens):\n{summary}"


class DocumentJobs:
    def __init__(self, chat: ChatJobs) -> None:
        self.chat = chat

    # -- attaching ------------------------------------------------------------------------

    def attach(self, name: str, text: str, size_bytes: int) -> bool | None:
        """Attach ``text`` to the open chat; False: cancelled or refused (the user was told)."""
        conversation = self.chat.conversation()
        if conversation is None:
            return None
        chat = self.chat
        tokens = count_tokens(conversation.tokenizer, text)
        parent = last_saved_id(conversation)
        summary: str | None = None
        message = self._try_whole(conversation, framed_document(name, text))
        if message is None:
            finished = self._summarize(conversation, name, text, SUMMARY_INSTRUCTION, tokens)
            if finished.finish_reason == FinishReason.CANCELLED:
                notice = f"Summarising {name} was cancelled: nothing was attached."
                chat.emit(Notice(notice, "warning"))
                return False
            summary = finished.text.strip()
            try:
                message = conversation.try_user_turn(framed_summary(name, tokens, summary))
            except ContextOverflowError as exc:
                raise ValueError(f"even the summary of {name} does not fit: {exc}") from None
        session_id = chat.session_for(name)
        stored, document = chat.sessions.add_document(
            session_id,
            message.content,
            parent_id=parent,
            name=name,
            text=text,
            size_bytes=size_bytes,
            tokens=tokens,
            summary=summary,
        )
        message.id = stored.id
        chat.emit(DocumentAdded(document))
        return True

    @staticmethod
    def _try_whole(conversation: Conversation, framed: str) -> ChatMessage | None:
        settings = conversation.settings
        tokens = count_tokens(conversation.tokenizer, framed)
        if not document_fits(tokens, settings.context_limit, settings.max_tokens):
            return None
        try:
            return conversation.try_user_turn(framed)
        except ContextOverflowError:
            return None

    def _summarize(
        self,
        conversation: Conversation,
        name: str,
        text: str,
        instruction: str,
        tokens: int,
        emit: Callable[[Event], None] | None = None,
    ) -> TurnFinished:
        """Summarise ``text`` with progress events; ``emit`` gets the final stage's events."""
        chat = self.chat
        progress = _Progress(name, tokens, chat.emit)

        def on_event(event: Event) -> None:
            if isinstance(event, SummaryProgress):
                progress.stage(event)
            elif isinstance(event, TextDelta):
                progress.token()
            if emit is not None and not isinstance(event, SummaryProgress):
                emit(event)  # the final stage, streamed as an answer

        finished = summarize(
            conversation.model,
            conversation.tokenizer,
            text,
            instruction=instruction,
            system_prompt=conversation.system_prompt,
            settings=conversation.settings,
            emit=on_event,
            cancel=chat.cancel,
            date_string=conversation.date_string,
        )
        if finished.finish_reason == FinishReason.ERROR:
            raise ValueError(finished.error or f"summarising {name} failed")
        return finished

    # -- summaries asked for from the palette -------------------------------------------------

    def summarize_chat(self) -> TurnFinished | None:
        conversation = self.chat.conversation()
        if conversation is None:
            return None
        lines = [
            f"{m.role.capitalize()}: {m.content}"
            for m in conversation.messages
            if m.role in ("user", "assistant") and isinstance(m.content, str) and m.content
        ]
        if not lines or self.chat.session_id is None:
            self.chat.emit(Notice("There is nothing to summarise in this chat yet.", "warning"))
            return None
        return self._answer_with_summary("this chat", "\n\n".join(lines), CHAT_INSTRUCTION)

    def resummarize(self, instruction: str, document_id: int | None) -> TurnFinished | None:
        conversation = self.chat.conversation()
        if conversation is None:
            return None
        session_id = self.chat.session_id
        documents = self.chat.sessions.documents(session_id) if session_id is not None else []
        if not documents:
            self.chat.emit(Notice("This chat has no document to summarise.", "warning"))
            return None
        chosen = [d for d in documents if d.id == document_id]
        document = chosen[0] if chosen else documents[-1]
        wanted = f"{SUMMARY_INSTRUCTION} {instruction.strip()}".strip()
        return self._answer_with_summary(document.name, document.text, wanted)

    def _answer_with_summary(self, what: str, text: str, instruction: str) -> TurnFinished | None:
        """Summarise ``text`` as an answer in the chat: streamed, saved, and in the history."""
        chat = self.chat
        conversation = chat.open_conversation
        tokens = count_tokens(conversation.tokenizer, text)
        finished = chat.stream_answer(
            lambda emit: self._summarize(conversation, what, text, instruction, tokens, emit),
            parent_id=last_saved_id(conversation),
            user_id=None,
        )  # cancelled: kept as a stopped answer
        conversation.messages.append(
            ChatMessage("assistant", finished.text, status=finished.status, id=finished.answer_id)
        )
        if finished.finish_reason != FinishReason.CANCELLED:
            chat.emit(SummaryDone(what, finished.text))
        return finished


class _Progress:
    """Turns the summary's stages into DocumentProgress events with a rate in tokens/s: the
    document's tokens read while parts are summarised, the tokens written in the last stage."""

    def __init__(self, name: str, tokens: int, emit: Callable[[Event], None]) -> None:
        self.name = name
        self.tokens = tokens
        self.emit = emit
        self.started = time.perf_counter()
        self.current = SummaryProgress("map", 0, 1)
        self.written = 0
        self.last_sent = 0.0

    def stage(self, event: SummaryProgress) -> None:
        new_stage = event.stage != self.current.stage
        if new_stage:
            self.started, self.written = time.perf_counter(), 0
        part_done = event.done != self.current.done
        self.current = event
        self._send(force=new_stage or part_done)  # tokens read: as often as the interval

    def token(self) -> None:
        if self.current.stage == "map" and self.current.done == 0:
            self.current = SummaryProgress("reduce", 0, 1)  # read whole: one pass, no parts
        self.written += 1
        self._send(force=False)

    def _send(self, *, force: bool) -> None:
        now = time.perf_counter()
        if not force and now - self.last_sent < PROGRESS_INTERVAL_S:
            return
        self.last_sent = now
        elapsed = max(now - self.started, 1e-6)
        event = self.current
        left = None
        if event.stage == "map" and event.tokens_total:
            rate = event.tokens_read / elapsed
            if rate > 0:
                left = (event.tokens_total - event.tokens_read) / rate
        elif event.stage == "map":
            rate = self.tokens * event.done / max(event.total, 1) / elapsed
        else:
            rate = self.written / elapsed
        self.emit(
            DocumentProgress(
                self.name,
                event.stage,
                event.done,
                event.total,
                rate,
                tokens_read=event.tokens_read,
                tokens_total=event.tokens_total,
                seconds_left=left,
            )
        )
