"""The owner of the open chat: the model, the conversation, its saved session and its answers.

Only the engine thread calls into this class (ChatController queues each call as a job), so
its state needs no locks. Each method may raise: the controller turns that into a JobFailed event.
The feature jobs (continue_.py, documents.py, branches.py, context.py) work on the open chat
through its public face only: ``conversation()``, ``session_for()``, ``emit()`` and
``stream_answer()``, the one way an answer is streamed into the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import mlx.core as mx

import mlx_model
from llama_chat.chat.approvals import ToolApprovals
from llama_chat.chat.conversation import (
    ChatMessage,
    ContextOverflowError,
    Conversation,
    GenerationSettings,
)
from llama_chat.chat.memory import sync_memory
from llama_chat.chat.presets import Preset
from llama_chat.chat.tool_choice import offers_tools, session_settings
from llama_chat.events import (
    Event,
    MessageRefused,
    Notice,
    SessionOpened,
    SessionsChanged,
    TurnFinished,
)
from llama_chat.jobs.answer import Write, stream_into_store
from llama_chat.jobs.context import ContextMeter
from llama_chat.jobs.kv import ChatCaches
from llama_chat.jobs.model import ModelSource, load_with_events
from llama_chat.jobs.presets import preset_applied
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.store.kv_files import CacheSaveError
from llama_chat.store.sessions import SessionInfo, SessionStore, StoredMessage
from llama_chat.tools import Approval, ToolCall, ToolRegistry, default_registry

TITLE_CHARS = 48


class ChatJobs:
    """The one owner of the open chat; feature jobs use only its public face."""

    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        sessions: SessionStore,
        emit: Callable[[Event], None],
        *,
        cancel: threading.Event,
        ask_approval: Callable[[ToolCall], Approval],
        model_dir: Path | str | None,
        demo: bool,
        offline: bool,
        tools_enabled: bool | None,
    ):
        self.settings = settings
        self.sessions = sessions
        self._on_event = emit
        self.cancel = cancel
        self._approvals = ToolApprovals(ask_approval)
        self._source = ModelSource(paths.cache_dir, model_dir, demo, offline)
        self.tools_enabled = tools_enabled  # for every chat; None: as settings and chats say
        self._chat_tools = offers_tools(tools_enabled, settings)
        """Whether the open chat offers tools (saved with the chat)."""
        self._caches = ChatCaches(paths.kv_cache_dir, settings.cache_budget_gb)
        self._model: mlx_model.Model | None = None
        self._tokenizer: mlx_model.Tokenizer | None = None
        self._quant = settings.quant
        self._model_id = ""
        self._conversation: Conversation | None = None
        self._session_id: int | None = None
        self.meter = ContextMeter(self)
        """The open chat's size for the context meter, and its read-ahead."""

    # -- the public face for the feature jobs ------------------------------------------------

    def emit(self, event: Event) -> None:
        """Tell the front end (events.py)."""
        self._on_event(event)

    @property
    def has_model(self) -> bool:
        return self._model is not None

    @property
    def tokenizer(self) -> mlx_model.Tokenizer | None:
        """The loaded model's tokenizer (any thread may use it: it is only replaced whole)."""
        return self._tokenizer

    @property
    def session_id(self) -> int | None:
        """The open chat's saved id; None until its first message is saved."""
        return self._session_id

    @property
    def open_conversation(self) -> Conversation | None:
        """The open chat's conversation as it is (None without a model); never makes one."""
        return self._conversation

    def conversation(self) -> Conversation | None:
        """The open chat's conversation, made empty (with the settings' system prompt) if
        there is none yet; None while no model is loaded, and the user is told so."""
        if not self._require_model():
            return None
        if self._conversation is None:
            self._conversation = self._make_conversation([], self.settings.system_prompt, None)
        return self._conversation

    def last_answer(self) -> str:
        return self._conversation.last_answer() if self._conversation is not None else ""

    def close(self) -> None:
        self.save_cache()
        # Drop the weights now; the engine thread outlives this controller.
        self._conversation = None
        self._model = None
        self._tokenizer = None
        mx.clear_cache()
        self.sessions.close()

    # -- the model --------------------------------------------------------------------------

    def load_model(self, quant: str) -> bool:
        self.save_cache()
        loaded = load_with_events(
            self._source,
            self.settings,
            quant,
            self.emit,
            cancel=self.cancel,
            before_load=self._unload,
        )
        if loaded is None:
            return False
        self._model, self._tokenizer, self._quant = loaded.model, loaded.tokenizer, quant
        self._model_id = loaded.model_id
        if self._conversation is not None:
            # Same messages, new model: the KV cache of the old one means nothing here.
            self._conversation = self._make_conversation(
                self._conversation.messages,
                self._conversation.system_prompt,
                self._conversation.date_string,
            )
        elif self._session_id is not None:
            # A chat opened before there was a model is on the screen already: it gets its
            # conversation and saved KV cache, and is not shown again (that would throw away
            # where the user scrolled to meanwhile).
            self._read_stored(self._session_id)
        self.meter.count_context()
        return True

    def _unload(self) -> None:
        """Free the old weights before loading new ones: two models may not fit in memory."""
        self._model = None
        self._tokenizer = None
        if self._conversation is not None:
            self._conversation.model = None
            self._conversation.cache = None
        mx.clear_cache()

    def _make_conversation(
        self, messages: list[ChatMessage], system_prompt: str, date_string: str | None
    ) -> Conversation:
        return Conversation(
            self._model,
            self._tokenizer,
            system_prompt=system_prompt,
            settings=GenerationSettings.from_settings(self.settings),
            tools=self._tools(),
            date_string=date_string,
            messages=messages,
            kv_bits=self.settings.kv_bits,
        )

    def _tools(self) -> ToolRegistry | None:
        if not self._chat_tools:
            return None
        return default_registry([Path(p).expanduser() for p in self.settings.allowed_folders])

    def _require_model(self) -> bool:
        if self._model is None:
            self.emit(Notice("No model is loaded yet.", "warning"))
            return False
        return True

    def apply_settings(self, settings: Settings, session_system_prompt: str | None) -> None:
        old = self.settings
        self.settings = settings
        self._caches.set_budget(settings.cache_budget_gb)
        if settings.tools != old.tools:
            self._chat_tools = offers_tools(self.tools_enabled, settings)
        conversation = self._conversation
        if conversation is not None and self._model is not None:
            conversation.use_settings(GenerationSettings.from_settings(settings), self._tools())
            if conversation.cache is None or conversation.cache.kv_bits != settings.kv_bits:
                conversation.cache = self._model.make_cache(kv_bits=settings.kv_bits)
        if self._session_id is not None:
            info = self.sessions.get_session(self._session_id)
            self.sessions.set_session_settings(
                self._session_id,
                session_settings(settings, self._chat_tools),
                system_prompt=session_system_prompt
                if session_system_prompt is not None
                else info.system_prompt,
            )
            if session_system_prompt is not None and session_system_prompt != info.system_prompt:
                self.open_session(self._session_id)
        if settings.quant != old.quant or self._model is None:
            self.load_model(settings.quant)

    # -- saved chats ------------------------------------------------------------------------

    def new_session(self) -> None:
        self.save_cache()
        self._session_id = None
        self._approvals.forget()
        self._chat_tools = offers_tools(self.tools_enabled, self.settings)
        if self._model is not None:
            self._conversation = self._make_conversation([], self.settings.system_prompt, None)
        self.emit(SessionOpened(None, []))
        self.meter.count_context()

    def open_session(self, session_id: int) -> None:
        self.save_cache()
        info, stored, cached = self._read_stored(session_id)
        self._session_id = session_id
        self._approvals.forget()
        documents = self.sessions.documents_of_messages(m.id for m in stored if m.role == "user")
        self.emit(SessionOpened(info, stored, cached, documents))
        self.meter.count_context()

    def _read_stored(self, session_id: int) -> tuple[SessionInfo, list[StoredMessage], int]:
        """Read a saved chat; with a model, it is the open conversation, its KV cache restored."""
        info = self.sessions.get_session(session_id)
        stored = self.sessions.active_path(session_id)
        self._chat_tools = offers_tools(self.tools_enabled, self.settings, info.settings)
        self._conversation, cached = None, 0
        if self._model is not None:
            messages = [ChatMessage.from_stored(m) for m in stored if m.role != "system"]
            conversation = self._make_conversation(messages, info.system_prompt, info.template_date)
            cached = self._caches.restore(conversation, session_id, self._model_id, self._quant)
            self._conversation = conversation
        return info, stored, cached

    def delete_session(self, session_id: int) -> None:
        if session_id == self._session_id:
            # Leave it without saving its cache: both are about to go.
            self._session_id = None
            self.new_session()
        self.sessions.delete_session(session_id)
        self._caches.delete(session_id)
        self.emit(SessionsChanged())

    def save_cache(self) -> None:
        conversation, session_id = self._conversation, self._session_id
        if conversation is None or session_id is None:
            return
        try:
            self._caches.save(conversation, session_id, self._model_id, self._quant)
        except CacheSaveError as exc:
            # A cache is only a speed-up: the chat goes on (and quitting still works) without it.
            self.emit(Notice(f"The KV cache was not saved: {exc}", "warning"))

    def session_for(self, first_text: str) -> int:
        """The open chat's saved id, saving the chat now (titled from ``first_text``) if it is
        not saved yet. Needs the conversation (``conversation()``)."""
        if self._session_id is None:
            conversation = self._conversation
            title = " ".join(first_text.split())[:TITLE_CHARS] or "New chat"
            info = self.sessions.create_session(
                title=title,
                system_prompt=conversation.system_prompt,
                settings=session_settings(self.settings, self._chat_tools),
                model=self._model_id,
                quant=self._quant,
                template_date=conversation.date_string,
            )
            self._session_id = info.id
        return self._session_id

    # -- turns ------------------------------------------------------------------------------

    def send(self, text: str, preset: Preset | None = None) -> TurnFinished | None:
        """Answer ``text``; under a ``preset`` (already applied to the text) its system prompt
        and temperature hold for this one answer."""
        conversation = self.conversation()
        if conversation is None:
            return None
        if preset is None:
            return self._send(text)
        # The chat is saved now, with its own system prompt: saved inside _send() it would
        # store the preset's.
        self.session_for(text)
        with preset_applied(conversation, preset):
            return self._send(text)

    def _send(self, text: str) -> TurnFinished | None:
        return self._ask(text, last_saved_id(self._conversation), replace_last=False)

    def _ask(self, text: str, parent: int | None, *, replace_last: bool) -> TurnFinished | None:
        """Add ``text`` as the user's turn, saved after ``parent``, and answer it."""
        user = self._user_turn(text, replace_last=replace_last)
        if user is None:
            return None
        session_id = self.session_for(text)
        user.id = self.sessions.add_message(session_id, "user", text, parent_id=parent).id
        return self._respond(user.id)

    def regenerate(self) -> TurnFinished | None:
        if not self._require_model() or self._conversation is None:
            return None
        try:
            self._conversation.drop_answer()
        except ValueError:
            self.emit(Notice("There is no message to answer again yet.", "warning"))
            return None
        user_id = self._conversation.messages[self._conversation.last_user_index()].id
        return self._respond(user_id)

    def edit_last(self, text: str) -> TurnFinished | None:
        if not self._require_model() or self._conversation is None:
            return None
        try:
            index = self._conversation.last_user_index()
        except ValueError:
            return self.send(text)
        parent = self._conversation.messages[index - 1].id if index > 0 else None
        return self._ask(text, parent, replace_last=True)

    def _user_turn(self, text: str, *, replace_last: bool) -> ChatMessage | None:
        """The new user message, or None (nothing saved, the user told) when it cannot fit."""
        try:
            return self._conversation.try_user_turn(text, replace_last=replace_last)
        except ContextOverflowError as exc:
            self.emit(MessageRefused(text, str(exc)))
            return None

    def _respond(self, user_id: int | None) -> TurnFinished:
        conversation = self._conversation
        self._caches.prefixes.prime_new_chat(conversation, self._model_id, self._quant)
        sync_memory(conversation, self.settings.rolling_memory, self.sessions, self.session_id)
        approve = partial(self._approvals.approve, tools=conversation.tools)
        finished = self.stream_answer(
            lambda emit: conversation.respond(emit, cancel=self.cancel, approve=approve),
            parent_id=user_id,
            user_id=user_id,
        )
        last = conversation.messages[-1] if conversation.messages else None
        if finished.answer_id is not None and last is not None and last.role == "assistant":
            last.id = finished.answer_id
        return finished

    def stream_answer(
        self,
        write: Write,
        *,
        parent_id: int | None,
        user_id: int | None,
        going_on: ChatMessage | None = None,
    ) -> TurnFinished:
        """Stream one answer of the open chat into the store: every answer comes through here.

        Emits TurnStarted, then what ``write`` emits through the function it is given (text,
        tool calls and their results, each saved as it comes), and ends with ``write``'s
        TurnFinished, which carries the saved ids. The answer follows ``parent_id``;
        ``going_on`` is a saved answer that this one continues (updated in place, never added
        again). A failure keeps what streamed, marked as an error, and is raised again.
        """
        return stream_into_store(
            self.sessions,
            self._session_id,
            self.emit,
            write,
            parent_id=parent_id,
            user_id=user_id,
            going_on=going_on,
        )


def last_saved_id(conversation: Conversation) -> int | None:
    """The id of the newest saved message of ``conversation`` (None: nothing saved yet)."""
    for message in reversed(conversation.messages):
        if message.id is not None:
            return message.id
    return None
