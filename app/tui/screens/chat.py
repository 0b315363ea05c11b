"""The main screen: saved chats on the left, the conversation, the message box, the status bar.

It turns key presses into controller calls (which return at once) and engine events into widget
updates. All of it runs on the UI thread; the engine's events arrive as ``EngineEvent``
messages posted by the app.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from llama_chat.events import SessionOpened, TurnStarted
from llama_chat.events import (
    ContextTrimmed,
    DownloadProgressEvent,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    Notice,
    PrefillProgress,
    TextDelta,
    ToolCallRequested,
    ToolResultReady,
    TurnFinished,
    TurnStats,
)
from llama_chat.store.sessions import NotFoundError
from llama_chat.tui.widgets.message import (
    AssistantMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
)
from llama_chat.tui.widgets.message_list import MessageList
from llama_chat.tui.widgets.prompt_input import PromptInput
from llama_chat.tui.widgets.session_sidebar import SessionSidebar
from llama_chat.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from llama_chat.tui.app import LlamaChatApp

FINISH_STATUS = {"stop": "complete", "length": "length", "cancelled": "stopped", "error": "error"}


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding(
            "escape",
            "stop",
            "Stop",
            id="stop",
            tooltip="Stop the answer being written; what it wrote so far is kept",
            priority=True,
        ),
        Binding(
            "ctrl+r",
            "regenerate",
            "Regenerate",
            id="regenerate",
            tooltip="Write the last answer again (the old one is kept as a branch)",
        ),
        Binding(
            "ctrl+l",
            "edit_last",
            "Edit last",
            id="edit_last",
            tooltip="Edit your last message and answer it again",
        ),
        Binding("ctrl+n", "new_session", "New chat", id="new_session", tooltip="Start a new chat"),
        Binding(
            "ctrl+o",
            "copy_last",
            "Copy answer",
            id="copy_last",
            tooltip="Copy the last answer to the clipboard",
        ),
        Binding(
            "ctrl+b",
            "toggle_sidebar",
            "Chats",
            id="toggle_sidebar",
            tooltip="Show or hide the list of saved chats",
        ),
        Binding(
            "ctrl+s",
            "settings",
            "Settings",
            id="settings",
            tooltip="Model precision, sampling, system prompt, memory, theme",
        ),
        Binding("f1,question_mark", "help", "Help", id="help", tooltip="Show every key"),
    ]

    app: LlamaChatApp

    def __init__(self) -> None:
        super().__init__(id="chat-screen")
        self.busy = False
        """A send/regenerate/edit job is queued or running."""
        self.model_state = "loading"
        """"loading", "ready" or "failed"."""
        self.loaded_quant: str | None = None
        self.session_id: int | None = None
        self.editing = False
        """The next send replaces the last user message (Ctrl+E)."""
        self.answer: AssistantMessage | None = None
        """The answer widget receiving text now."""
        self.turns_done = 0
        """How many send/regenerate/edit jobs have ended (whatever their outcome)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield SessionSidebar(self.app.controller.store, id="sidebar")
            with Vertical(id="chat"):
                yield MessageList(id="messages")
                yield Label(
                    "Editing your last message. Enter sends it, Esc cancels.", id="editing-hint"
                )
                yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#editing-hint").display = False
        self.query_one(PromptInput).focus()

    @property
    def messages(self) -> MessageList:
        return self.query_one(MessageList)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def sidebar(self) -> SessionSidebar:
        return self.query_one(SessionSidebar)

    # -- bindings -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.busy or self.editing
        if action in ("regenerate", "edit_last"):
            return None if self.busy else True  # None: shown greyed out in the footer
        return True

    def action_stop(self) -> None:
        if self.busy:
            self.app.controller.stop()
            self.status.set_activity("stopping…")
        elif self.editing:
            self._set_editing(False)
            self.prompt.clear()

    async def action_regenerate(self) -> None:
        if not self._can_start():
            return
        last_user = self.messages.last_user()
        if last_user is None:
            self.notify("There is no message to answer again yet.", severity="warning")
            return
        await self.messages.remove_after(last_user)
        self._start_turn(self.app.controller.regenerate())

    def action_edit_last(self) -> None:
        if self.busy:
            self.notify("Wait for the answer, or press Esc to stop it.", severity="warning")
            return
        last_user = self.messages.last_user()
        if last_user is None:
            self.notify("There is no message to edit yet.", severity="warning")
            return
        self.prompt.set_text(last_user.text)
        self.prompt.focus()
        self._set_editing(True)

    def action_new_session(self) -> None:
        if self.refuse_while_busy():
            return
        self.app.controller.new_session()

    def action_copy_last(self) -> None:
        text = self.app.controller.last_answer()
        if not text:
            self.notify("There is no answer to copy yet.", severity="warning")
            return
        self.app.copy_text(text)

    def action_toggle_sidebar(self) -> None:
        sidebar = self.sidebar
        sidebar.display = not sidebar.display
        if sidebar.display:
            sidebar.query_one("#session-search").focus()
        else:
            self.prompt.focus()

    def action_search_sessions(self) -> None:
        self.sidebar.display = True
        self.sidebar.query_one("#session-search").focus()

    def action_settings(self) -> None:
        self.app.open_settings()

    def action_help(self) -> None:
        from llama_chat.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen([*self.BINDINGS, *self.app.BINDINGS]))

    def action_rename_session(self) -> None:
        if self._require_session():
            self.post_message(SessionSidebar.Rename(self.session_id))

    def action_delete_session(self) -> None:
        if self._require_session():
            self.post_message(SessionSidebar.Delete(self.session_id))

    def action_export_session(self, fmt: str = "") -> None:
        if not self._require_session():
            return
        if fmt:
            self.app.export_session(self.session_id, fmt)
        else:
            self.post_message(SessionSidebar.Export(self.session_id))

    # -- sending ------------------------------------------------------------------------------

    def refuse_while_busy(self) -> bool:
        if self.busy:
            self.notify(
                "An answer is being written. Press Esc to stop it first.", severity="warning"
            )
        return self.busy

    def _require_session(self) -> bool:
        if self.session_id is None:
            self.notify("This chat is not saved yet: send a message first.", severity="warning")
            return False
        return True

    def _can_start(self) -> bool:
        if self.refuse_while_busy():
            return False
        if self.model_state != "ready":
            why = "is still loading" if self.model_state == "loading" else "did not load"
            self.notify(f"The model {why}; your message is kept in the box.", severity="warning")
            return False
        return True

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        if not self._can_start():
            return
        text = event.text
        self.prompt.remember(text)
        self.prompt.clear()
        if self.editing:
            self._set_editing(False)
            last_user = self.messages.last_user()
            if last_user is not None:
                await self.messages.remove_after(last_user, inclusive=True)
            await self.messages.add(UserMessage(text))
            self._start_turn(self.app.controller.edit_last(text))
        else:
            await self.messages.add(UserMessage(text))
            self._start_turn(self.app.controller.send(text))

    def _start_turn(self, future: Future) -> None:
        self.busy = True
        self.answer = None
        self.messages.follow()
        self.status.set_activity("thinking…")
        self.refresh_bindings()
        self.app.watch_turn(future)

    def _set_editing(self, editing: bool) -> None:
        self.editing = editing
        self.query_one("#editing-hint").display = editing
        self.refresh_bindings()

    async def turn_done(self, future: Future) -> None:
        """The engine job ended: always leaves the screen ready for the next message."""
        error = future.exception()
        if error is not None:
            self.notify(f"The answer failed: {type(error).__name__}: {error}", severity="error")
            if self.answer is not None and self.answer.streaming:
                await self.answer.finish(self.answer.text, "error", str(error))
        elif future.result() is None and self.session_id is not None:
            # The controller declined the job (nothing to regenerate...): show what is saved.
            await self.messages.show_stored(self.app.controller.store.active_path(self.session_id))
        self.busy = False
        self.answer = None
        self.turns_done += 1
        if self.status.activity_text in ("thinking…", "stopping…"):
            self.status.set_activity("")
        self.refresh_bindings()

    # -- engine events ------------------------------------------------------------------------

    async def handle_event(self, event: Any) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            await handler(event)

    async def _on_ModelLoading(self, event: ModelLoading) -> None:
        self.model_state = "loading"
        self.status.model_loading(event.source)

    async def _on_DownloadProgressEvent(self, event: DownloadProgressEvent) -> None:
        self.status.download_progress(event)

    async def _on_ModelLoaded(self, event: ModelLoaded) -> None:
        self.model_state = "ready"
        self.loaded_quant = event.quant
        self.status.model_loaded(self.app.model_label(event), demo=event.demo)
        self.app.model_loaded(event)

    async def _on_ModelLoadFailed(self, event: ModelLoadFailed) -> None:
        self.model_state = "failed"
        self.status.model_failed(event.quant)
        self.app.model_failed(event)

    async def _on_Notice(self, event: Notice) -> None:
        self.notify(event.message, severity=event.severity, timeout=10)

    async def _on_SessionOpened(self, event: SessionOpened) -> None:
        self.session_id = event.session.id if event.session is not None else None
        self.answer = None
        self._set_editing(False)
        await self.messages.show_stored(event.messages)
        self.prompt.prompt_history = [m.content for m in event.messages if m.role == "user"]
        limit = self.app.controller.settings.context_limit
        self.status.set_context(event.cached_tokens, limit)
        await self.sidebar.reload(self.session_id)
        self.prompt.focus()

    async def _on_TurnStarted(self, event: TurnStarted) -> None:
        new_session = event.session_id != self.session_id
        self.session_id = event.session_id
        user = self.messages.last_user()
        if user is not None and user.message_id is None:
            user.message_id = event.user_message_id
        if new_session:
            await self.sidebar.reload(self.session_id)

    async def _on_PrefillProgress(self, event: PrefillProgress) -> None:
        self.status.prefill(event.done, event.total)

    async def _on_TextDelta(self, event: TextDelta) -> None:
        if self.answer is None:
            self.answer = AssistantMessage()
            await self.messages.add(self.answer)
            self.status.set_activity("writing…")
        await self.answer.append(event.text)

    async def _on_ToolCallRequested(self, event: ToolCallRequested) -> None:
        if self.answer is not None:  # what streamed was the call itself: show it compactly
            await self.answer.remove()
            self.answer = None
        await self.messages.add(ToolCallMessage.from_call(event.call))
        self.status.set_activity(f"tool call: {event.call.name}")

    async def _on_ToolResultReady(self, event: ToolResultReady) -> None:
        await self.messages.add(ToolResultMessage(event.result.content, approved=event.approved))
        self.status.set_activity("thinking…")

    async def _on_ContextTrimmed(self, event: ContextTrimmed) -> None:
        self.notify(
            f"The chat is longer than the context limit ({event.context_limit:,} tokens): "
            f"the oldest {event.dropped_messages} message(s) are no longer seen by the model.",
            severity="warning",
        )

    async def _on_TurnStats(self, event: TurnStats) -> None:
        self.status.turn_stats(event)

    async def _on_TurnFinished(self, event: TurnFinished) -> None:
        status = FINISH_STATUS.get(event.finish_reason, "error")
        if self.answer is None and (event.text or status != "complete"):
            self.answer = AssistantMessage()
            await self.messages.add(self.answer)
        if self.answer is not None:
            await self.answer.finish(event.text, status, event.error)
        self.answer = None
        self.status.set_activity("")
        self.status.turn_stats(event.stats)
        if event.error:
            self.notify(f"The answer failed: {event.error}", severity="error", timeout=10)
        await self.sidebar.reload(self.session_id)

    # -- sidebar ------------------------------------------------------------------------------

    @on(SessionSidebar.Open)
    def _open_session(self, event: SessionSidebar.Open) -> None:
        if self.refuse_while_busy():
            return
        self.app.controller.open_session(event.session_id)

    @on(SessionSidebar.NewChat)
    def _new_chat(self) -> None:
        self.action_new_session()

    @on(SessionSidebar.Rename)
    def _rename(self, event: SessionSidebar.Rename) -> None:
        self.app.rename_session(event.session_id)

    @on(SessionSidebar.Delete)
    def _delete(self, event: SessionSidebar.Delete) -> None:
        if event.session_id == self.session_id and self.refuse_while_busy():
            return
        self.app.delete_session(event.session_id)

    @on(SessionSidebar.Export)
    def _export(self, event: SessionSidebar.Export) -> None:
        self.app.ask_export(event.session_id)

    def session_title(self, session_id: int) -> str | None:
        try:
            return self.app.controller.store.get_session(session_id).title
        except NotFoundError:
            return None
