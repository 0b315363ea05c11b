"""The chat app's core, shared by every front end: model, conversation, saved sessions.

A front end creates one ChatController, passes an ``on_event`` callback, and calls its methods
from its own thread. Every method returns at once: the work is queued on the engine thread
(see engine_thread.py) and its progress comes back as events (app/events.py), emitted from the
engine thread. ``stop()`` is the exception: it only sets a flag, so it takes effect within one
token even while the engine thread is busy.

Nothing is lost on the way: the user's message is committed before generation starts, the
answer is committed while it streams (at least once a second) and finalised as complete,
stopped or error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx.utils import tree_flatten

import mlx_model
from llama_chat.store.kv_files import CacheStore
from llama_chat.models.resolve import resolve_checkpoint
from llama_chat.chat.conversation import ChatMessage, Conversation, GenerationSettings
from llama_chat.models.demo import DEMO_LABEL
from llama_chat.engine_thread import EngineThread
from llama_chat.events import (
    DownloadProgressEvent,
    Event,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    Notice,
    SessionOpened,
    TurnStarted,
    TextDelta,
    ToolCallRequested,
    ToolResultReady,
    TurnFinished,
)
from llama_chat.models.hub import DownloadProgress
from llama_chat.models.store import ModelStoreError, check_fit, machine_memory_bytes
from mlx_model import memory_needed
from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore, StoredMessage
from llama_chat.settings import Settings
from llama_chat.tools import ToolCall, ToolRegistry, default_registry

SAVE_INTERVAL_S = 1.0
TITLE_CHARS = 48

Approver = Callable[[ToolCall], bool]


class ChatController:
    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        on_event: Callable[[Event | SessionOpened | TurnStarted], None],
        *,
        store: SessionStore | None = None,
        model_dir: Path | str | None = None,
        demo: bool = False,
        offline: bool = False,
        tools_enabled: bool = True,
    ):
        self.settings = settings
        self.paths = paths.ensure()
        self.on_event = on_event
        self.store = store or SessionStore.open(paths.sessions_db)
        self.cache_store = CacheStore(paths.kv_cache_dir, int(settings.cache_budget_gb * 1e9))
        self.model_dir = model_dir
        self.demo = demo
        self.offline = offline
        self.tools_enabled = tools_enabled
        self.engine = EngineThread.shared()
        self.cancel = threading.Event()
        self.approver: Approver | None = None
        # Engine-thread state: touched only by jobs running there.
        self.model: mlx_model.Model | None = None
        self.tokenizer: mlx_model.Tokenizer | None = None
        self.quant = settings.quant
        self.model_id = ""
        self.conversation: Conversation | None = None
        self.session_id: int | None = None
        self.always_allowed: set[str] = set()
        if self.store.recovered_from is not None:
            self._emit(
                Notice(
                    f"The saved chats database could not be read; it was moved to "
                    f"{self.store.recovered_from} and a new one was started.",
                    "warning",
                )
            )

    # -- public API (any thread) ------------------------------------------------------------

    def load_model(self, quant: str | None = None) -> Future[bool]:
        return self.engine.submit(self._load_model, quant or self.quant)

    def new_session(self) -> Future[None]:
        return self.engine.submit(self._new_session)

    def open_session(self, session_id: int) -> Future[None]:
        return self.engine.submit(self._open_session, session_id)

    def send(self, text: str) -> Future[TurnFinished | None]:
        self.cancel.clear()
        return self.engine.submit(self._send, text)

    def regenerate(self) -> Future[TurnFinished | None]:
        self.cancel.clear()
        return self.engine.submit(self._regenerate)

    def edit_last(self, text: str) -> Future[TurnFinished | None]:
        self.cancel.clear()
        return self.engine.submit(self._edit_last, text)

    def stop(self) -> None:
        self.cancel.set()

    def apply_settings(self, settings: Settings) -> Future[None]:
        return self.engine.submit(self._apply_settings, settings)

    def save_cache(self) -> Future[None]:
        return self.engine.submit(self._save_cache)

    def close(self) -> None:
        """Stop any answer, save the KV cache, and stop the engine thread."""
        self.cancel.set()
        self.engine.submit(self._close).result(timeout=60)

    def _close(self) -> None:
        self._save_cache()
        # Drop the weights now; the engine thread outlives this controller.
        self.conversation = None
        self.model = None
        self.tokenizer = None
        mx.clear_cache()

    def last_answer(self) -> str:
        conversation = self.conversation
        if conversation is None:
            return ""
        for message in reversed(conversation.messages):
            if message.role == "assistant" and isinstance(message.content, str) and message.content:
                return message.content
        return ""

    # -- engine-thread jobs -----------------------------------------------------------------

    def _emit(self, event: Any) -> None:
        self.on_event(event)

    def _checkpoint_for(self, quant: str) -> tuple[Path, str]:
        def progress(p: DownloadProgress) -> None:
            self._emit(
                DownloadProgressEvent(
                    quant, p.filename, p.bytes_done, p.bytes_total, p.rate_bps, p.eta_s
                )
            )

        return resolve_checkpoint(
            self.settings,
            quant,
            cache_dir=self.paths.cache_dir,
            model=self.model_dir,
            demo=self.demo,
            offline=self.offline,
            on_progress=progress,
            cancel=self.cancel,
        )

    def _label(self, quant: str) -> str:
        if self.demo:
            return DEMO_LABEL
        if self.model_dir is not None:
            return str(self.model_dir)
        return quant

    def _load_model(self, quant: str) -> bool:
        self._save_cache()
        self._emit(ModelLoading(quant, self._label(quant)))
        started = time.perf_counter()
        try:
            path, model_id = self._checkpoint_for(quant)
            config = mlx_model.ModelConfig.from_file(path / "config.json")
            bits = config.quantization.bits if config.quantization else None
            estimate = memory_needed(
                config, bits, self.settings.context_limit, self.settings.kv_bits
            )
            problem = check_fit(estimate, machine_memory_bytes())
            if problem:
                raise ValueError(problem)
            # Free the old weights before loading the new ones: two models may not fit.
            self.model = None
            self.tokenizer = None
            if self.conversation is not None:
                self.conversation.model = None
                self.conversation.cache = None
            mx.clear_cache()
            model, tokenizer = mlx_model.load(path)
        except (OSError, ValueError, ModelStoreError) as exc:
            self._emit(ModelLoadFailed(quant, str(exc)))
            return False
        self.model, self.tokenizer, self.quant = model, tokenizer, quant
        self.model_id = model_id
        weights_gb = sum(v.nbytes for _, v in tree_flatten(model.parameters())) / 1e9
        self._emit(ModelLoaded(quant, path, time.perf_counter() - started, weights_gb, self.demo))
        if self.conversation is not None:
            # Same messages, new model: the KV cache of the old one means nothing here.
            self.conversation = self._make_conversation(
                self.conversation.messages,
                self.conversation.system_prompt,
                self.conversation.date_string,
            )
        return True

    def _make_conversation(
        self, messages: list[ChatMessage], system_prompt: str, date_string: str | None
    ) -> Conversation:
        return Conversation(
            self.model,
            self.tokenizer,
            system_prompt=system_prompt,
            settings=GenerationSettings.from_settings(self.settings),
            tools=self._tools(),
            date_string=date_string,
            messages=messages,
            kv_bits=self.settings.kv_bits,
        )

    def _tools(self) -> ToolRegistry | None:
        if not self.tools_enabled:
            return None
        return default_registry([Path(p).expanduser() for p in self.settings.allowed_folders])

    def _require_model(self) -> bool:
        if self.model is None:
            self._emit(Notice("No model is loaded yet.", "warning"))
            return False
        return True

    def _new_session(self) -> None:
        self._save_cache()
        self.session_id = None
        self.always_allowed.clear()
        if self.model is not None:
            self.conversation = self._make_conversation([], self.settings.system_prompt, None)
        self._emit(SessionOpened(None, []))

    def _open_session(self, session_id: int) -> None:
        self._save_cache()
        info = self.store.get_session(session_id)
        stored = self.store.active_path(session_id)
        self.session_id = session_id
        self.always_allowed.clear()
        cached = 0
        if self.model is not None:
            messages = [_chat_message(m) for m in stored if m.role != "system"]
            self.conversation = self._make_conversation(
                messages, info.system_prompt, info.template_date
            )
            cached = self._restore_cache()
        self._emit(SessionOpened(info, stored, cached))

    def _restore_cache(self) -> int:
        conversation = self.conversation
        if conversation is None or self.session_id is None or not conversation.messages:
            return 0
        try:
            ids = conversation.encode(add_generation_prompt=False)
        except ValueError:
            return 0
        cache = self.cache_store.load_best(
            self.session_id, self.model_id, self.quant, ids, self.model
        )
        if cache is None:
            return 0
        conversation.cache = cache
        return cache.common_prefix(ids)

    def _save_cache(self) -> None:
        conversation = self.conversation
        if conversation is None or self.session_id is None or conversation.cache is None:
            return
        try:
            self.cache_store.save(
                self.session_id,
                {"model_id": self.model_id, "quant": self.quant},
                conversation.cache,
            )
        except OSError as exc:  # a full disk must not take the chat with it
            self._emit(Notice(f"Could not save the KV cache: {exc}", "warning"))

    def _apply_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.cache_store.budget_bytes = int(settings.cache_budget_gb * 1e9)
        if self.conversation is not None:
            self.conversation.settings = GenerationSettings.from_settings(self.settings)
            self.conversation.tools = self._tools()
            if self.conversation.cache.kv_bits != settings.kv_bits:
                self.conversation.cache = self.model.make_cache(kv_bits=settings.kv_bits)
        if self.session_id is not None:
            self.store.set_session_settings(self.session_id, _session_settings(settings))

    def _ensure_session(self, first_text: str) -> int:
        if self.session_id is None:
            conversation = self.conversation
            title = " ".join(first_text.split())[:TITLE_CHARS] or "New chat"
            info = self.store.create_session(
                title=title,
                system_prompt=conversation.system_prompt,
                settings=_session_settings(self.settings),
                model=self.model_id,
                quant=self.quant,
                template_date=conversation.date_string,
            )
            self.session_id = info.id
        return self.session_id

    def _send(self, text: str) -> TurnFinished | None:
        if not self._require_model():
            return None
        if self.conversation is None:
            self.conversation = self._make_conversation([], self.settings.system_prompt, None)
        session_id = self._ensure_session(text)
        parent = self._last_saved_id()
        user = self.conversation.add_user(text)
        user.id = self.store.add_message(session_id, "user", text, parent_id=parent).id
        return self._respond(user.id)

    def _regenerate(self) -> TurnFinished | None:
        if not self._require_model() or self.conversation is None:
            return None
        try:
            self.conversation.drop_answer()
        except ValueError:
            return None
        user_id = self.conversation.messages[self.conversation.last_user_index()].id
        return self._respond(user_id)

    def _edit_last(self, text: str) -> TurnFinished | None:
        if not self._require_model() or self.conversation is None:
            return None
        try:
            index = self.conversation.last_user_index()
        except ValueError:
            return self._send(text)
        parent = self.conversation.messages[index - 1].id if index > 0 else None
        user = self.conversation.edit_last_user(text)
        session_id = self._ensure_session(text)
        user.id = self.store.add_message(session_id, "user", text, parent_id=parent).id
        return self._respond(user.id)

    def _last_saved_id(self) -> int | None:
        for message in reversed(self.conversation.messages):
            if message.id is not None:
                return message.id
        return None

    def _respond(self, user_id: int | None) -> TurnFinished:
        conversation = self.conversation
        session_id = self.session_id
        self._emit(TurnStarted(session_id, user_id))
        streaming = _StreamingAnswer(self.store, session_id, user_id)

        def emit(event: Any) -> None:
            if isinstance(event, TextDelta):
                streaming.append(event.text)
            elif isinstance(event, ToolCallRequested):
                # The text so far was the call itself: store it as a tool-call message.
                streaming.finish_tool_call(event.call)
            elif isinstance(event, ToolResultReady):
                streaming.add_tool_result(event.result.content)
            self._emit(event)

        try:
            finished = conversation.respond(emit, cancel=self.cancel, approve=self._approve)
        except Exception as exc:  # keep what streamed; say what broke
            streaming.finalise("error")
            finished = TurnFinished("error", streaming.text, error=f"{type(exc).__name__}: {exc}")
            self._emit(finished)
            return finished
        status = {"stop": "complete", "length": "complete", "cancelled": "stopped"}.get(
            finished.finish_reason, "error"
        )
        saved = streaming.finalise(status)
        if (
            saved is not None
            and conversation.messages
            and conversation.messages[-1].role == ("assistant")
        ):
            conversation.messages[-1].id = saved
        return finished

    def _approve(self, call: ToolCall) -> bool:
        if call.name in self.always_allowed:
            return True
        if self.approver is None:
            return False
        answer = self.approver(call)
        if answer == "always":
            self.always_allowed.add(call.name)
            return True
        return answer in (True, "once")


class _StreamingAnswer:
    """The answer as it streams, committed at least every SAVE_INTERVAL_S."""

    def __init__(self, store: SessionStore, session_id: int, parent_id: int | None):
        self.store = store
        self.session_id = session_id
        self.parent_id = parent_id
        self.message_id: int | None = None
        self.parts: list[str] = []
        self.last_save = 0.0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def append(self, delta: str) -> None:
        self.parts.append(delta)
        if self.message_id is None:
            self.message_id = self.store.add_message(
                self.session_id,
                "assistant",
                self.text,
                parent_id=self.parent_id,
                status="streaming",
            ).id
            self.last_save = time.monotonic()
        elif time.monotonic() - self.last_save >= SAVE_INTERVAL_S:
            self.store.update_message(self.message_id, self.text, "streaming")
            self.last_save = time.monotonic()

    def finish_tool_call(self, call: ToolCall) -> None:
        tool_calls = [
            {"type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        ]
        if self.message_id is not None:
            # The streamed JSON becomes a tool-call message (content empty, call structured).
            self.parent_id = self.store.update_message(
                self.message_id, "", "complete", tool_calls=tool_calls
            ).id
        else:
            self.parent_id = self.store.add_message(
                self.session_id, "assistant", "", parent_id=self.parent_id, tool_calls=tool_calls
            ).id
        self.message_id = None
        self.parts = []

    def add_tool_result(self, content: Any) -> None:
        text = content if isinstance(content, str) else _json(content)
        self.parent_id = self.store.add_message(
            self.session_id, "ipython", text, parent_id=self.parent_id
        ).id

    def finalise(self, status: str) -> int | None:
        if self.message_id is None:
            if not self.parts and status == "complete":
                return None
            self.message_id = self.store.add_message(
                self.session_id, "assistant", self.text, parent_id=self.parent_id, status=status
            ).id
            return self.message_id
        self.store.update_message(self.message_id, self.text, status)
        return self.message_id


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _chat_message(stored: StoredMessage) -> ChatMessage:
    content: Any = stored.content
    if stored.role == "ipython":
        content = _maybe_json(stored.content)
    return ChatMessage(
        stored.role, content, tool_calls=stored.tool_calls, status=stored.status, id=stored.id
    )


def _maybe_json(text: str) -> Any:
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict | list) else text


def _session_settings(settings: Settings) -> dict[str, Any]:
    return {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "top_k": settings.top_k,
        "min_p": settings.min_p,
        "repetition_penalty": settings.repetition_penalty,
        "max_tokens": settings.max_tokens,
        "seed": settings.seed,
    }
