"""The chat app's core, shared by every front end: model, conversation, saved sessions.

A front end creates one ChatController with an ``on_event`` callback and calls its methods from
its own thread. Every method returns at once: the work runs as a job on the engine thread (see
engine_thread.py) and reports back only through events (app/events.py), emitted from the engine
thread. Every job ends with exactly one ``JobFinished``; a job that raised first emits
``JobFailed`` with one readable line, so no failure can vanish in a Future nobody reads (the
Futures the methods return never hold an exception; tests and the CLI may wait on them).
``stop()`` is the exception: it only sets a flag, so it takes effect within one token. A job that
makes a front end busy (BUSY_JOBS) starts with a ``JobStarted``, emitted on the caller's thread
as the job is asked for, so the front end is busy before it can ask for another.

Nothing is lost on the way: the user's message is committed before generation starts, the
answer is committed while it streams (at least once a second) and finalised with its status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import mlx_model
from llama_chat.chat.conversation import Conversation
from llama_chat.chat.presets import Preset
from llama_chat.engine_thread import EngineThread
from llama_chat.events import (
    Event,
    Exported,
    Job,
    JobFailed,
    JobFinished,
    JobStarted,
    Notice,
    SessionsChanged,
    TurnFinished,
)
from llama_chat.jobs.branches import BranchJobs
from llama_chat.jobs.chat import ChatJobs
from llama_chat.jobs.continue_ import ContinueJobs
from llama_chat.jobs.documents import DocumentJobs
from llama_chat.paths import AppPaths
from llama_chat.queries import ChatQueries
from llama_chat.settings import Settings
from llama_chat.store.export import export_session
from llama_chat.store.sessions import SessionStore
from llama_chat.tools import Approval, ToolCall

Approver = Callable[[ToolCall], Approval]
"""Asks the user about one tool call, blocking the engine thread until they answer."""

BUSY_JOBS = frozenset(
    {
        Job.SEND,
        Job.REGENERATE,
        Job.EDIT,
        Job.CONTINUE,
        Job.SUMMARIZE_CHAT,
        Job.RESUMMARIZE,
        Job.ATTACH,
    }
)
"""Jobs that make a front end busy: each starts with a JobStarted (see events.JobStarted)."""


def describe_failure(job: Job, exc: BaseException) -> str:
    """One line a person can read: what could not be done, and why."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, OSError | ValueError | LookupError | RuntimeError):
        detail = f"{type(exc).__name__}: {detail}"  # unexpected: the type helps a bug report
    return f"Could not {job}: {detail}"


class ChatController:
    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        on_event: Callable[[Event], None],
        *,
        store: SessionStore | None = None,
        model_dir: Path | str | None = None,
        demo: bool = False,
        offline: bool = False,
        tools_enabled: bool | None = None,
    ):
        self.on_event = on_event
        self.sessions = store or SessionStore.open(paths.ensure().sessions_db)
        """The saved chats. Front ends may query it from their own thread; changes go via jobs."""
        self.queries = ChatQueries(self.sessions)
        """What a front end reads of the saved chats (read-only; changes go via jobs)."""
        self.cancel = threading.Event()
        self.approver: Approver | None = None
        self._reading = threading.Event()
        """Set to stop the read-ahead of the open chat (read_chat) when another job comes."""
        self._engine = EngineThread.shared()
        self._chat = ChatJobs(
            settings,
            paths.ensure(),
            self.sessions,
            self._emit,
            cancel=self.cancel,
            ask_approval=self._ask_approval,
            model_dir=model_dir,
            demo=demo,
            offline=offline,
            tools_enabled=tools_enabled,
        )
        self._documents = DocumentJobs(self._chat)
        self._default_quant = settings.quant
        self._continue = ContinueJobs(self._chat)
        self._branches = BranchJobs(self._chat)
        if self.sessions.recovered_from is not None:
            self._emit(
                Notice(
                    f"The saved chats database could not be read; it was moved to "
                    f"{self.sessions.recovered_from}, and the chats that could still be read "
                    f"were copied into a new one.",
                    "warning",
                )
            )

    # -- public API (any thread) ------------------------------------------------------------

    def load_model(self, quant: str | None = None) -> Future[bool]:
        loaded = self._submit(Job.LOAD, self._chat.load_model, quant or self._default_quant)
        self._read_ahead()  # the chat open when the model loads
        return loaded

    def new_session(self) -> Future[None]:
        return self._submit(Job.NEW_SESSION, self._chat.new_session)

    def open_session(self, session_id: int) -> Future[None]:
        opened = self._submit(Job.OPEN_SESSION, self._chat.open_session, session_id)
        self._read_ahead()
        return opened

    def _read_ahead(self) -> None:
        """Read the open chat into the KV cache in the background, until another job comes."""
        reading = threading.Event()
        self._reading = reading
        self._engine.submit(self._run_job, Job.READ_CHAT, self._chat.meter.read_chat, (reading,))

    def send(self, text: str) -> Future[TurnFinished | None]:
        self.cancel.clear()
        return self._submit(Job.SEND, self._chat.send, text)

    def regenerate(self) -> Future[TurnFinished | None]:
        self.cancel.clear()
        return self._submit(Job.REGENERATE, self._chat.regenerate)

    def edit_last(self, text: str) -> Future[TurnFinished | None]:
        self.cancel.clear()
        return self._submit(Job.EDIT, self._chat.edit_last, text)

    def stop(self) -> None:
        self.cancel.set()

    def apply_settings(
        self, settings: Settings, session_system_prompt: str | None = None
    ) -> Future[None]:
        """Use new settings; a new system prompt for the open chat re-reads it with that prompt.

        Loads the model again when the quant changed, or when the last load failed.
        """
        self._default_quant = settings.quant
        applied = self._submit(
            Job.SETTINGS, self._chat.apply_settings, settings, session_system_prompt
        )
        # Another model, K/V precision or window leaves the open chat's cache without the
        # window its next message needs: read it now, not when the user sends.
        self._read_ahead()
        return applied

    def rename_session(self, session_id: int, title: str) -> Future[None]:
        return self._submit(Job.RENAME, self._rename, session_id, title)

    def delete_session(self, session_id: int) -> Future[None]:
        return self._submit(Job.DELETE, self._chat.delete_session, session_id)

    def export_session(self, session_id: int, fmt: str, folder: Path) -> Future[Path | None]:
        return self._submit(Job.EXPORT, self._export, session_id, fmt, folder)

    def save_draft(self, session_id: int | None, text: str) -> Future[None]:
        """Keep the unsent text of a chat (None: the new, unsaved chat); "" forgets it."""
        return self._submit(Job.SAVE_DRAFT, self.sessions.set_draft, session_id, text)

    def save_cache(self) -> Future[None]:
        return self._submit(Job.SAVE_CACHE, self._chat.save_cache)

    def close(self, timeout_s: float = 60) -> None:
        """Stop any answer, save the KV cache, free the model; blocks until done."""
        self.cancel.set()
        self._submit(Job.CLOSE, self._chat.close).result(timeout=timeout_s)

    def last_answer(self) -> str:
        return self._chat.last_answer()

    @property
    def open_conversation(self) -> Conversation | None:
        """The open chat as the engine thread holds it (None while no model is loaded): to look
        at, not to change (jobs change it, on the engine thread)."""
        return self._chat.open_conversation

    @property
    def tokenizer(self) -> mlx_model.Tokenizer | None:
        """The loaded model's tokenizer; None while none is loaded (see count_tokens)."""
        return self._chat.tokenizer

    def continue_answer(self) -> Future[TurnFinished | None]:
        """Let the model write on where the newest answer was cut off (at max tokens)."""
        self.cancel.clear()
        return self._submit(Job.CONTINUE, self._continue.continue_answer)

    def attach_document(self, name: str, text: str, size_bytes: int) -> Future[bool | None]:
        """Attach a text to the open chat: whole if it fits the context, else its summary."""
        self.cancel.clear()
        return self._submit(Job.ATTACH, self._documents.attach, name, text, size_bytes)

    def summarize_chat(self) -> Future[TurnFinished | None]:
        """Summarise the open chat's transcript; the summary is written as an answer."""
        self.cancel.clear()
        return self._submit(Job.SUMMARIZE_CHAT, self._documents.summarize_chat)

    def resummarize_document(
        self, instruction: str, document_id: int | None = None
    ) -> Future[TurnFinished | None]:
        """Summarise a document of the open chat again (None: its last one), following
        ``instruction``; the summary is written as an answer."""
        self.cancel.clear()
        return self._submit(Job.RESUMMARIZE, self._documents.resummarize, instruction, document_id)

    def switch_branch(self, message_id: int, step: int) -> Future[bool]:
        """Show the previous (-1) or next (+1) sibling of a saved message; the next turn
        builds on it. Ends in BranchSwitched, or a Notice when there is no such sibling."""
        return self._submit(Job.BRANCH, self._branches.switch_branch, message_id, step)

    # -- jobs -------------------------------------------------------------------------------

    def _submit(self, job: Job, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        self._reading.set()  # a read-ahead gives way: this job's prefill goes on from it
        if job in BUSY_JOBS:
            self._emit(JobStarted(job, self._chat.session_id))
        return self._engine.submit(self._run_job, job, fn, args)

    def _run_job(self, job: Job, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Runs on the engine thread: whatever happens, the front end hears how the job ended.

        A job that returns False ran to its end but could not do its work (it said why in its
        own events, as a failed load does).
        """
        ok = False
        try:
            result = fn(*args)
            ok = result is not False
            return result
        except Exception as exc:
            self._emit(JobFailed(job, describe_failure(job, exc)))
            return None
        finally:
            self._emit(JobFinished(job, ok))

    def _emit(self, event: Event) -> None:
        self.on_event(event)

    def _rename(self, session_id: int, title: str) -> None:
        self.sessions.rename_session(session_id, title)
        self._emit(SessionsChanged())

    def _export(self, session_id: int, fmt: str, folder: Path) -> Path:
        path = export_session(self.sessions, session_id, fmt, folder)
        self._emit(Exported(path))
        return path

    def _ask_approval(self, call: ToolCall) -> Approval:
        approver = self.approver
        return approver(call) if approver is not None else Approval.DENY

    # -- presets and the draft counter ----------------------------------------------------------

    def send_with_preset(self, text: str, preset: Preset) -> Future[TurnFinished | None]:
        """Send ``text`` (the preset already applied); the preset's system prompt and
        temperature hold for this one answer."""
        self.cancel.clear()
        return self._submit(Job.SEND, self._chat.send, text, preset)

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` as a message's content; None while no model is loaded.

        Any thread may call it: the tokenizer is tiktoken (thread-safe, no MLX), and the engine
        thread only ever replaces it whole.
        """
        tokenizer = self.tokenizer
        return None if tokenizer is None else len(tokenizer.encode(text))
