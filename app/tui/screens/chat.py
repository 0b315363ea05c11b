"""The main screen: saved chats on the left, the conversation, the message box, the status bar.

It turns keys into controller calls (which return at once) and shows the engine's events: the
bridge (bridge.py) posts every core event here, in order. What this screen does not stop
bubbles on to the app, which keeps the app-wide state (state.ChatApp).
"""

from __future__ import annotations

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from llama_chat.events import Job
from llama_chat.tui.bridge import Core
from llama_chat.tui.clipboard import copy_text
from llama_chat.tui.drafts import Drafts
from llama_chat.tui.keys import CHAT_BINDINGS
from llama_chat.tui.screens.chat_branches import BranchHandlers
from llama_chat.tui.screens.chat_cursor import CursorHandlers
from llama_chat.tui.screens.chat_documents import DocumentHandlers
from llama_chat.tui.screens.chat_draft_counter import DraftCounterHandlers
from llama_chat.tui.screens.chat_presets import PresetHandlers
from llama_chat.tui.screens.chat_sessions import SessionHandlers
from llama_chat.tui.screens.help import HelpScreen
from llama_chat.tui.screens.settings import open_settings
from llama_chat.tui.state import TURN_JOBS
from llama_chat.tui.widgets.message import UserMessage
from llama_chat.tui.widgets.message_list import MessageList
from llama_chat.tui.widgets.preset_completion import PresetCompletion
from llama_chat.tui.widgets.priority_footer import PriorityFooter
from llama_chat.tui.widgets.prompt_input import PromptInput
from llama_chat.tui.widgets.session_sidebar import SessionSidebar
from llama_chat.tui.widgets.status_bar import StatusBar, model_label

SIDEBAR_MIN_WIDTH = 90
"""Below this many columns the saved chats start hidden (Ctrl+B shows them)."""


def all_bindings(app: App) -> list[Binding]:
    """Every key of the main screen, as the help screen lists them."""
    found = [*CHAT_BINDINGS, *app.BINDINGS, *PromptInput.BINDINGS, *SessionSidebar.BINDINGS]
    return [b for b in found if isinstance(b, Binding)]


class ChatScreen(
    CursorHandlers,
    DocumentHandlers,
    BranchHandlers,
    DraftCounterHandlers,
    PresetHandlers,
    SessionHandlers,
):
    BINDINGS = CHAT_BINDINGS

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield SessionSidebar(self.state.controller.sessions, id="sidebar")
            with Vertical(id="chat"):
                yield MessageList(id="messages")
                yield Label(
                    "Editing your last message. Enter sends it, Esc cancels.", id="editing-hint"
                )
                yield PresetCompletion(id="preset-completion")
                yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield PriorityFooter(compact=True)

    def on_mount(self) -> None:
        self.watch(self.app, "editing", self._show_editing_hint)
        self.watch(self.app, "model_state", self._send_waiting_message, init=False)
        self.prompt.focus()
        self.drafts = Drafts(self.state.controller, self.prompt, self.state.paths.open_chat_file)
        self.watch(self.app, "session_id", self.drafts.remember_open_chat, init=False)
        if (reopen := self.drafts.chat_to_reopen()) is not None:
            self.state.controller.open_session(reopen)

    def on_resize(self, event: events.Resize) -> None:
        if not self._sidebar_chosen:
            self.sidebar.display = event.size.width >= SIDEBAR_MIN_WIDTH

    def _show_editing_hint(self, editing: bool) -> None:
        self.query_one("#editing-hint").display = editing

    def _send_waiting_message(self, model_state: str) -> None:
        """A message held while the model loaded goes out now (or stays in the box, editable)."""
        if model_state == "loading" or self.prompt.waiting is None:
            return
        text = self.prompt.stop_waiting()
        if model_state == "ready" and text:
            self.prompt.post_message(PromptInput.Submitted(self.prompt, text))
        else:
            self.notify(
                "The model did not load; your message is kept in the box.", severity="warning"
            )

    # -- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.state.busy
        if action == "cancel_edit":
            return self.state.editing and not self.state.busy
        if action == "scroll_chat":
            focused = self.focused
            if focused is not None and self.sidebar in focused.ancestors_with_self:
                return False  # the chat list scrolls itself
            if parameters[0] in ("home", "end") and focused is self.prompt:
                return not self.prompt.text  # keys pass on to the box when it has text
        if action in ("regenerate", "edit_last"):
            return None if self.state.busy else True  # None: shown greyed out in the footer
        if action == "branch":
            return self.branch_keys_apply()
        return super().check_action(action, parameters)  # the parts' actions (chat_*.py)

    def action_stop(self) -> None:
        self.state.controller.stop()
        self.status.set_activity("stopping…")

    def action_cancel_edit(self) -> None:
        self.state.editing = False
        self.prompt.unstash()  # the draft that edit-last set aside comes back

    async def action_scroll_chat(self, where: str) -> None:
        messages, session_id = self.messages, self.state.session_id
        if where == "end":  # and stay there: messages still laying out make the chat taller
            if messages.newer and session_id is not None:  # the view shows the chat's start
                await messages.show_stored(self.state.controller.sessions.active_path(session_id))
            messages.scroll_end(animate=False)
            messages.follow()
        elif where == "home":  # the start of the chat, not of the messages mounted so far
            path = self.state.controller.sessions.active_path(session_id) if session_id else []
            await messages.show_start(path)
        else:
            {"page_up": messages.scroll_page_up, "page_down": messages.scroll_page_down}[where]()

    async def action_regenerate(self) -> None:
        if not self.can_start():
            return
        last_turn = self.messages.last_turn()  # an attached document is answered again too
        if last_turn is None:
            self.notify("There is no message to answer again yet.", severity="warning")
            return
        await self.messages.remove_after(last_turn)
        self.start_turn()
        self.state.controller.regenerate()

    def action_edit_last(self) -> None:
        if self.refuse_while_busy():
            return
        last_user = self.messages.last_turn()
        if last_user is None:
            self.notify("There is no message to edit yet.", severity="warning")
            return
        if not isinstance(last_user, UserMessage):
            self.notify("The last message is a document: ask about it instead.", severity="warning")
            return
        self.prompt.stash_and_set(last_user.text)
        self.prompt.focus()
        self.state.editing = True

    def action_copy_last(self) -> None:
        text = self.state.controller.last_answer()
        if not text:
            self.notify("There is no answer to copy yet.", severity="warning")
            return
        copy_text(self.app, text, "the last answer")

    def action_settings(self) -> None:
        open_settings(self.app)

    def action_help(self) -> None:
        paths = self.state.paths
        where = f"Settings: {paths.settings_file}\nChats: {paths.data_dir}"
        self.app.push_screen(HelpScreen(all_bindings(self.app), self.state.settings.keys, where))

    # -- sending --------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        if self.state.model_state == "loading" and not self.state.busy:
            self.prompt.wait_for_model()  # sent by itself once the model is ready
            return
        if await self.submit_preset(event.text):
            return
        if not self.can_start():
            return
        text = event.text
        self.prompt.remember(text)
        self.prompt.clear()
        if self.state.editing:
            self.state.editing = False
            self.prompt.unstash()
            last_user = self.messages.last_user()
            if last_user is not None:
                await self.messages.remove_after(last_user, inclusive=True)
            await self.messages.add(UserMessage(text))
            self.start_turn()
            self.state.controller.edit_last(text)
        else:
            await self.messages.add(UserMessage(text))
            self.start_turn()
            self.state.controller.send(text)
        self.save_draft()

    # -- engine events ----------------------------------------------------------------------------

    @on(Core.ModelLoading)
    def _model_loading(self, message: Core.ModelLoading) -> None:
        self.status.model_loading(message.event.source)

    @on(Core.DownloadProgress)
    def _download_progress(self, message: Core.DownloadProgress) -> None:
        self.status.download_progress(message.event)

    @on(Core.ModelLoaded)
    def _model_loaded(self, message: Core.ModelLoaded) -> None:
        label = model_label(message.event, self.state.model_dir)
        self.status.model_loaded(label, demo=message.event.demo)

    @on(Core.ModelLoadFailed)
    def _model_failed(self, message: Core.ModelLoadFailed) -> None:
        self.status.model_failed(message.event.quant)

    @on(Core.SessionOpened)
    async def _session_opened(self, message: Core.SessionOpened) -> None:
        event = message.event
        await self.messages.show_stored(event.messages)
        self.prompt.prompt_history = [m.content for m in event.messages if m.role == "user"]
        self.status.set_context(event.cached_tokens, self.state.settings.context_limit)
        session_id = event.session.id if event.session is not None else None
        self.drafts.show(session_id)
        await self.sidebar.show_current(session_id)
        focused = self.focused  # a chat opening late must not pull the user out of the sidebar
        if focused is None or self.sidebar not in focused.ancestors_with_self:
            self.prompt.focus()

    @on(Core.ContextCounted)
    def _context_counted(self, message: Core.ContextCounted) -> None:
        self.status.set_context(message.event.tokens, message.event.context_limit)

    @on(Core.TurnStarted)
    async def _turn_started(self, message: Core.TurnStarted) -> None:
        event = message.event
        user = self.messages.last_user()
        if self.messages.newer:  # the view showed the chat's start: the answer goes at its end
            sessions = self.state.controller.sessions
            await self.messages.show_stored(sessions.active_path(event.session_id))
            self.messages.follow()
        elif user is not None and user.message_id is None:
            user.message_id = event.user_message_id
        if event.session_id != self.state.session_id:  # the chat's first message: now saved
            await self.sidebar.chat_changed(event.session_id)

    @on(Core.MessageRefused)
    async def _message_refused(self, message: Core.MessageRefused) -> None:
        """Nothing was saved: show the chat as stored and give the text back to edit."""
        self._turn_ended = True
        sid, sessions = self.state.session_id, self.state.controller.sessions
        await self.messages.show_stored(sessions.active_path(sid) if sid is not None else [])
        self.prompt.set_text(message.event.text)
        reason = message.event.reason
        self.notify(f"Your message was not sent: {reason}.", severity="warning", timeout=15)

    @on(Core.PrefillProgress)
    def _prefill(self, message: Core.PrefillProgress) -> None:
        self.status.prefill(message.event.done, message.event.total)

    @on(Core.TextDelta)
    async def _text(self, message: Core.TextDelta) -> None:
        if self.messages.answer is None:
            self.status.set_activity("writing…")
        await self.messages.append_answer(message.event.text)

    @on(Core.ToolCallRequested)
    async def _tool_call(self, message: Core.ToolCallRequested) -> None:
        await self.messages.show_tool_call(message.event)
        self.status.set_activity(f"tool call: {message.event.call.name}")

    @on(Core.ToolResultReady)
    async def _tool_result(self, message: Core.ToolResultReady) -> None:
        await self.messages.show_tool_result(message.event)
        self.status.set_activity("thinking…")

    @on(Core.TurnFinished)
    async def _turn_finished(self, message: Core.TurnFinished) -> None:
        event = message.event
        self._turn_ended = True
        await self.messages.finish_answer(event)
        self.status.set_activity("")
        self.status.turn_stats(event.stats)
        if event.error:
            self.notify(f"The answer failed: {event.error}", severity="error", timeout=10)
        if self.state.session_id is not None:  # its row moves to the top, the others stay
            await self.sidebar.chat_changed(self.state.session_id)

    @on(Core.JobFailed)
    async def _job_failed(self, message: Core.JobFailed) -> None:
        if message.event.job in TURN_JOBS:
            self._turn_ended = True
            await self.messages.fail_answer(message.event.message)

    @on(Core.JobFinished)
    async def _job_finished(self, message: Core.JobFinished) -> None:
        if message.event.job == Job.SETTINGS:  # the meter shows the new limit right away
            self.status.set_context(self.status.context_used, self.state.settings.context_limit)
        if message.event.job == Job.READ_CHAT and not self.state.busy:
            self.status.set_activity("")  # the chat is read: its progress is done
        if message.event.job not in TURN_JOBS:
            return
        session_id = self.state.session_id
        if not self._turn_ended and session_id is not None:
            # The controller declined the job (no model, nothing to regenerate): show what is
            # saved rather than what this screen had already removed for the new answer.
            await self.messages.show_stored(self.state.controller.sessions.active_path(session_id))
        if self.status.activity_text in ("thinking…", "stopping…", "writing…"):
            self.status.set_activity("")

    @on(Core.SessionsChanged)
    async def _sessions_changed(self) -> None:
        await self.sidebar.reload(self.state.session_id)
