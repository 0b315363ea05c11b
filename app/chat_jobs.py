"""What runs on the engine thread: the model, the open chat, and saving both as they change.

Only the engine thread calls into this class (ChatController queues each call as a job), so
its state needs no locks. Each method may raise: the controller turns that into a JobFailed event.
"""

from __future__ import annotations

import threading
import time
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
from llama_chat.chat.prefix_cache import PrefixCache
from llama_chat.chat.saved_answer import SavedAnswer
from llama_chat.chat.tool_choice import offers_tools, session_settings
from llama_chat.context_jobs import ContextMeter
from llama_chat.events import (
    DownloadProgressEvent,
    Event,
    Exported,
    MessageRefused,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    Notice,
    SessionOpened,
    SessionsChanged,
    TextDelta,
    ToolCallRequested,
    ToolResultReady,
    TurnFinished,
    TurnStarted,
)
from llama_chat.models.demo import DEMO_LABEL
from llama_chat.models.hub import DownloadProgress
from llama_chat.models.loader import ModelLoadError, load_checked
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.status import MessageStatus
from llama_chat.store.export import export_session
from llama_chat.store.kv_files import CacheSaveError, CacheStore
from llama_chat.store.sessions import SessionInfo, SessionStore, StoredMessage
from llama_chat.tools import Approval, ToolCall, ToolRegistry, default_registry

TITLE_CHARS = 48


class ChatJobs(ContextMeter):
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
        self.paths = paths
        self.sessions = sessions
        self._emit = emit
        self.cancel = cancel
        self._approvals = ToolApprovals(ask_approval)
        self.model_dir = model_dir
        self.demo = demo
        self.offline = offline
        self.tools_enabled = tools_enabled  # for every chat; None: as settings and chats say
        self._chat_tools = offers_tools(tools_enabled, settings)
        """Whether the open chat offers tools (saved with the chat)."""
        self._cache_files = CacheStore(paths.kv_cache_dir, int(settings.cache_budget_gb * 1e9))
        self._prefixes = PrefixCache(self._cache_files)
        self._model: mlx_model.Model | None = None
        self._tokenizer: mlx_model.Tokenizer | None = None
        self._quant = settings.quant
        self._model_id = ""
        self._conversation: Conversation | None = None
        self._session_id: int | None = None

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

    def _label(self, quant: str) -> str:
        return DEMO_LABEL if self.demo else quant if self.model_dir is None else str(self.model_dir)

    def load_model(self, quant: str) -> bool:
        self.save_cache()
        self._emit(ModelLoading(quant, self._label(quant)))
        started = time.perf_counter()

        def progress(p: DownloadProgress) -> None:
            self._emit(
                DownloadProgressEvent(
                    quant, p.filename, p.bytes_done, p.bytes_total, p.rate_bps, p.eta_s
                )
            )

        try:
            loaded = load_checked(
                self.settings,
                quant,
                cache_dir=self.paths.cache_dir,
                model=self.model_dir,
                demo=self.demo,
                offline=self.offline,
                on_progress=progress,
                cancel=self.cancel,
                before_load=self._unload,
            )
        except ModelLoadError as exc:
            self._emit(ModelLoadFailed(quant, str(exc)))
            return False
        self._model, self._tokenizer, self._quant = loaded.model, loaded.tokenizer, quant
        self._model_id = loaded.model_id
        self._emit(
            ModelLoaded(
                quant,
                loaded.path,
                time.perf_counter() - started,
                loaded.weights_bytes / 1e9,
                self.demo,
                loaded.config,
            )
        )
        if self._conversation is not None:
            # Same messages, new model: the KV cache of the old one means nothing here.
            self._conversation = self._make_conversation(
                self._conversation.messages,
                self._conversation.system_prompt,
                self._conversation.date_string,
            )
        elif self._session_id is not None:  # a chat opened before there was a model
            self.open_session(self._session_id)  # again, now with its saved KV cache
        self.count_context()
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
            self._emit(Notice("No model is loaded yet.", "warning"))
            return False
        return True

    def apply_settings(self, settings: Settings, session_system_prompt: str | None) -> None:
        old = self.settings
        self.settings = settings
        self._cache_files.budget_bytes = int(settings.cache_budget_gb * 1e9)
        if settings.tools != old.tools:
            self._chat_tools = offers_tools(self.tools_enabled, settings)
        conversation = self._conversation
        if conversation is not None and self._model is not None:
            conversation.settings = GenerationSettings.from_settings(settings)
            conversation.tools = self._tools()
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
        self._emit(SessionOpened(None, []))
        self.count_context()

    def open_session(self, session_id: int) -> None:
        self.save_cache()
        info = self.sessions.get_session(session_id)
        stored = self.sessions.active_path(session_id)
        self._session_id = session_id
        self._approvals.forget()
        self._chat_tools = offers_tools(self.tools_enabled, self.settings, info.settings)
        self._conversation = None
        if self._model is not None:
            self._conversation = self._stored_conversation(info, stored)
        cached = self._restore_cache()
        self._emit(SessionOpened(info, stored, cached))
        self.count_context()

    def _stored_conversation(self, info: SessionInfo, stored: list[StoredMessage]) -> Conversation:
        messages = [ChatMessage.from_stored(m) for m in stored if m.role != "system"]
        return self._make_conversation(messages, info.system_prompt, info.template_date)

    def rename_session(self, session_id: int, title: str) -> None:
        self.sessions.rename_session(session_id, title)
        self._emit(SessionsChanged())

    def delete_session(self, session_id: int) -> None:
        if session_id == self._session_id:
            # Leave it without saving its cache: both are about to go.
            self._session_id = None
            self.new_session()
        self.sessions.delete_session(session_id)
        self._cache_files.delete_session(session_id)
        self._emit(SessionsChanged())

    def export_session(self, session_id: int, fmt: str, folder: Path) -> Path:
        path = export_session(self.sessions, session_id, fmt, folder)
        self._emit(Exported(path))
        return path

    def _restore_cache(self) -> int:
        conversation = self._conversation
        if conversation is None or self._session_id is None or not conversation.messages:
            return 0
        if not self._cache_files.session_files(self._session_id):
            return 0  # no saved cache: skip encoding what may be thousands of messages
        try:
            ids = conversation.encode(add_generation_prompt=False)
        except ValueError:
            return 0
        cache = self._cache_files.load_best(
            self._session_id, self._model_id, self._quant, ids, self._model
        )
        if cache is None:
            return 0
        conversation.cache = cache
        return cache.common_prefix(ids)

    def save_cache(self) -> None:
        conversation = self._conversation
        if conversation is None or self._session_id is None or conversation.cache is None:
            return
        try:
            self._cache_files.save(
                self._session_id,
                {"model_id": self._model_id, "quant": self._quant},
                conversation.cache,
            )
        except CacheSaveError as exc:
            # A cache is only a speed-up: the chat goes on (and quitting still works) without it.
            self._emit(Notice(f"The KV cache was not saved: {exc}", "warning"))

    def _ensure_session(self, first_text: str) -> int:
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

    def send(self, text: str) -> TurnFinished | None:
        if not self._require_model():
            return None
        if self._conversation is None:
            self._conversation = self._make_conversation([], self.settings.system_prompt, None)
        parent = self._last_saved_id()
        user = self._user_turn(text, replace_last=False)
        if user is None:
            return None
        session_id = self._ensure_session(text)
        user.id = self.sessions.add_message(session_id, "user", text, parent_id=parent).id
        return self._respond(user.id)

    def regenerate(self) -> TurnFinished | None:
        if not self._require_model() or self._conversation is None:
            return None
        try:
            self._conversation.drop_answer()
        except ValueError:
            self._emit(Notice("There is no message to answer again yet.", "warning"))
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
        user = self._user_turn(text, replace_last=True)
        if user is None:
            return None
        session_id = self._ensure_session(text)
        user.id = self.sessions.add_message(session_id, "user", text, parent_id=parent).id
        return self._respond(user.id)

    def _user_turn(self, text: str, *, replace_last: bool) -> ChatMessage | None:
        """The new user message, or None (nothing saved, the user told) when it cannot fit."""
        try:
            return self._conversation.try_user_turn(text, replace_last=replace_last)
        except ContextOverflowError as exc:
            self._emit(MessageRefused(text, str(exc)))
            return None

    def _last_saved_id(self) -> int | None:
        for message in reversed(self._conversation.messages):
            if message.id is not None:
                return message.id
        return None

    def _respond(self, user_id: int | None) -> TurnFinished:
        conversation = self._conversation
        session_id = self._session_id
        self._emit(TurnStarted(session_id, user_id))
        self._prefixes.prime_new_chat(conversation, self._model_id, self._quant)
        sync_memory(conversation, self.settings.rolling_memory, self.sessions, session_id)
        answer = SavedAnswer(self.sessions, session_id, user_id)

        def emit(event: Event) -> None:
            if isinstance(event, TextDelta):
                answer.append(event.text)
            elif isinstance(event, ToolCallRequested):
                answer.finish_tool_call(event.call)
            elif isinstance(event, ToolResultReady):
                answer.add_tool_result(event.result.content)
            self._emit(event)

        try:
            approve = partial(self._approvals.approve, tools=conversation.tools)
            finished = conversation.respond(emit, cancel=self.cancel, approve=approve)
        except Exception:
            answer.finalise(MessageStatus.ERROR)  # keep what streamed; the job says what broke
            raise
        saved = answer.finalise(finished.status)
        last = conversation.messages[-1] if conversation.messages else None
        if saved is not None and last is not None and last.role == "assistant":
            last.id = saved
        return finished
