"""The main screen: saved chats on the left, the conversation, the message box, the status bar.

It turns keys into controller calls (which return at once) and shows the engine's events: the
bridge (bridge.py) posts every core event here, in order. What this screen does not stop
bubbles on to the app, which keeps the app-wide state (state.ChatApp). Its widgets own their
features (the message cursor and branches, the draft meter, the preset list, the chats' list)
and ask through messages; plain parts it holds do its answers, documents and saved chats.
"""

from __future__ import annotations

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Label, TextArea

from llama_chat.events import Job
from llama_chat.tui.bridge import Core
from llama_chat.tui.clipboard import copy_text
from llama_chat.tui.drafts import Drafts
from llama_chat.tui.keys import CHAT_BINDINGS, CHAT_KEYS
from llama_chat.tui.screens.chat_documents import DocumentFlow
from llama_chat.tui.screens.chat_sessions import SessionFlow
from llama_chat.tui.screens.chat_turns import TurnFlow, read_branches, refuse_while_busy, show_saved
from llama_chat.tui.screens.help import HelpScreen
from llama_chat.tui.screens.settings import open_settings
from llama_chat.tui.state import TURN_JOBS, ChatApp, chat_app
from llama_chat.tui.widgets.message_cursor import cut_off_answer
from llama_chat.tui.widgets.message_list import MessageList
from llama_chat.tui.widgets.preset_completion import PresetCompletion
from llama_chat.tui.widgets.priority_footer import PriorityFooter
from llama_chat.tui.widgets.prompt_input import PromptInput
from llama_chat.tui.widgets.session_sidebar import SessionSidebar
from llama_chat.tui.widgets.status_bar import StatusBar, model_label

STEPS = {"previous": -1, "next": +1}
"""A branch switch's direction, as the keys and the switchers' links name it."""


def all_bindings(app: App) -> list[Binding]:
    """Every key of the main screen, as the help screen lists them."""
    found = [*CHAT_KEYS, *app.BINDINGS, *PromptInput.BINDINGS, *SessionSidebar.BINDINGS]
    return [b for b in found if isinstance(b, Binding)]


class ChatScreen(Screen[None]):
    BINDINGS = CHAT_BINDINGS

    def __init__(self) -> None:
        super().__init__(id="chat-screen")
        self.drafts: Drafts | None = None
        self.documents = DocumentFlow(self)
        self.turns = TurnFlow(self)
        self.sessions = SessionFlow(self, self.save_draft)
        self._switchers_asked = 0

    @property
    def state(self) -> ChatApp:
        return chat_app(self)

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

    @property
    def completion(self) -> PresetCompletion:
        return self.query_one(PresetCompletion)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield SessionSidebar(self.state.controller.queries, id="sidebar")
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
        self.watch(self.app, "model_state", self.turns.send_waiting, init=False)
        self.prompt.focus()
        self.drafts = Drafts(self.state.controller, self.prompt, self.state.paths.open_chat_file)
        self.watch(self.app, "session_id", self.drafts.remember_open_chat, init=False)
        if (reopen := self.drafts.chat_to_reopen()) is not None:
            self.state.controller.open_session(reopen)

    def on_resize(self, event: events.Resize) -> None:
        self.sidebar.fit_screen(event.size.width)

    def _show_editing_hint(self, editing: bool) -> None:
        self.query_one("#editing-hint").display = editing

    @on(PromptInput.DraftChanged)
    def save_draft(self) -> None:
        if self.drafts is not None:  # keep the unsent text with the open chat (drafts.py)
            self.drafts.save(self.state.session_id)

    # -- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        busy, focused = self.state.busy, self.focused
        if action == "stop":
            return busy
        if action == "cancel_edit":
            return self.state.editing and not busy
        if action == "cursor_leave":
            return self.messages.cursor_on
        if action == "continue_answer":  # shown exactly when there is a cut-off answer
            return not busy and cut_off_answer(self.messages.selectable()) is not None
        if action in ("preset_move", "preset_pick"):
            return self.completion.is_open and focused is self.prompt
        if action == "scroll_chat":
            if self.sidebar.has_focus_within:
                return False  # the chat list scrolls itself
            if parameters[0] in ("home", "end") and focused is self.prompt:
                return not self.prompt.text  # keys pass on to the box when it has text
        if action in ("regenerate", "edit_last"):
            return None if busy else True  # None: shown greyed out in the footer
        if action == "branch":
            # Ctrl+Left/Right jump words in a text box: they stay with the message box while it
            # has text, and with the saved chats' search.
            typing = focused is self.prompt and self.prompt.text
            return not (self.sidebar.has_focus_within or typing)
        return super().check_action(action, parameters)

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
                await show_saved(self, session_id)
            messages.scroll_end(animate=False)
            messages.follow()
        elif where == "home":  # the start of the chat, not of the messages mounted so far
            await show_saved(self, session_id, start=True)
        else:
            {"page_up": messages.scroll_page_up, "page_down": messages.scroll_page_down}[where]()

    async def action_regenerate(self) -> None:
        await self.turns.regenerate()

    def action_edit_last(self) -> None:
        self.turns.edit_last()

    def action_continue_answer(self) -> None:
        self.turns.continue_answer()

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

    # -- the message cursor (its other keys are the message list's) -----------------------------

    def action_cursor_enter(self) -> None:
        self.messages.enter_cursor()

    def action_cursor_leave(self) -> None:
        self.messages.select(None)
        self.prompt.focus()

    def on_key(self, event: events.Key) -> None:
        printable = event.is_printable and event.key not in self.active_bindings
        if self.messages.cursor_on and printable:
            # Typing (a key that is not one of the cursor's) goes back to the box, with the key.
            event.stop()
            event.prevent_default()
            self.action_cursor_leave()
            self.prompt.insert(event.character or "")
        elif event.key == "escape" and self.completion.dismiss():
            # Esc is not a binding for the preset list: the screen's own Esc bindings (stop,
            # cancel edit) would replace it; when they do not apply, the key arrives here.
            event.stop()

    # -- branches ---------------------------------------------------------------------------------

    def action_branch(self, direction: str) -> None:
        """Keys: the message under the cursor if it has siblings, else the newest that has."""
        message_id = self.messages.branch_target()
        if message_id is None:
            self.notify("No message here has other branches.", severity="warning")
            return
        self.action_branch_at(message_id, direction)

    def action_branch_at(self, message_id: int, direction: str) -> None:
        if not refuse_while_busy(self):
            self.state.controller.switch_branch(message_id, STEPS[direction])

    async def _show_branch_switchers(self, session_id: int | None) -> None:
        """``session_id`` is the event's where there is one (the app's changes after this)."""
        self._switchers_asked = asked = self._switchers_asked + 1
        positions = await read_branches(self, session_id)
        if asked == self._switchers_asked:  # else a newer read is on its way
            await self.messages.show_branch_switchers(positions)

    @on(MessageList.PageShown)
    async def _page_shown(self) -> None:
        await self._show_branch_switchers(self.state.session_id)

    # -- presets, documents, saved chats ----------------------------------------------------------

    def action_preset_move(self, step: int) -> None:
        self.completion.move(step)

    def action_preset_pick(self) -> None:
        preset = self.completion.picked
        self.completion.hide()
        if preset is not None:
            self.prompt.set_text(f"/{preset.name} ")

    @on(TextArea.Changed, "#prompt")
    def _prompt_changed(self) -> None:
        self.prompt.count_draft(self.status.context_used)
        usage = self.completion.follow(self.prompt.text)
        if self.prompt.border_title != usage:  # setting it, even unchanged, redraws the box
            self.prompt.border_title = usage

    def action_attach_file(self) -> None:
        self.documents.pick_file()

    def action_summarise_chat(self) -> None:
        self.documents.summarise_chat()

    def action_resummarise_document(self) -> None:
        self.documents.resummarise_document()

    @on(events.Paste)
    def _pasted(self, event: events.Paste) -> None:
        self.documents.offer_pasted(event.text)

    def action_new_session(self) -> None:
        self.sessions.new_session()

    def action_open_session(self, session_id: int) -> None:
        self.sessions.open_session(session_id)

    def action_toggle_sidebar(self) -> None:
        self.sessions.toggle_sidebar()

    def action_search_sessions(self) -> None:
        self.sidebar.show_search()

    def action_rename_session(self) -> None:
        self.sessions.ask_for_open_chat(SessionSidebar.Rename)

    def action_delete_session(self) -> None:
        self.sessions.ask_for_open_chat(SessionSidebar.Delete)

    def action_export_session(self, fmt: str = "") -> None:
        self.sessions.export_open_chat(fmt or None)

    @on(SessionSidebar.Open)
    @on(SessionSidebar.NewChat)
    @on(SessionSidebar.Rename)
    @on(SessionSidebar.Delete)
    @on(SessionSidebar.Export)
    @on(MessageList.SaveRequested)
    def _requested(self, request: Message) -> None:
        self.sessions.handle(request)

    # -- sending --------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        if await self.turns.submit(event.text):
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
        await self.messages.show_stored(event.messages, event.documents)
        self.prompt.prompt_history = [m.content for m in event.messages if m.role == "user"]
        self.status.set_context(event.cached_tokens, self.state.settings.context_limit)
        session_id = event.session.id if event.session is not None else None
        self.drafts.show(session_id)
        await self.sidebar.show_current(session_id)
        focused = self.focused  # a chat opening late must not pull the user out of the sidebar
        if focused is None or self.sidebar not in focused.ancestors_with_self:
            self.prompt.focus()
        await self._show_branch_switchers(session_id)

    @on(Core.ContextCounted)
    def _context_counted(self, message: Core.ContextCounted) -> None:
        self.status.set_context(message.event.tokens, message.event.context_limit)

    @on(Core.TurnStarted)
    @on(Core.MessageRefused)
    @on(Core.TextDelta)
    @on(Core.ToolCallRequested)
    @on(Core.ToolResultReady)
    @on(Core.TurnFinished)
    @on(Core.JobFailed)
    async def _answer_event(self, message: Message) -> None:
        await self.turns.show(message.event)

    @on(Core.MessageRefused)
    def _offer_document(self, message: Core.MessageRefused) -> None:
        self.documents.offer_long_message(message.event.text)

    @on(Core.PrefillProgress)
    def _prefill(self, message: Core.PrefillProgress) -> None:
        self.status.prefill(message.event.done, message.event.total)

    @on(Core.JobFinished)
    async def _job_finished(self, message: Core.JobFinished) -> None:
        job = message.event.job
        if job == Job.SETTINGS:  # the meter shows the new limit right away
            self.status.set_context(self.status.context_used, self.state.settings.context_limit)
        if job == Job.READ_CHAT and not self.state.busy:
            self.status.set_activity("")  # the chat is read: its progress is done
        await self.turns.show(message.event)
        await self.documents.job_finished(job)
        if job in TURN_JOBS:
            await self._show_branch_switchers(self.state.session_id)

    @on(Core.BranchSwitched)
    async def _branch_switched(self, message: Core.BranchSwitched) -> None:
        event = message.event
        await self.messages.show_from_fork(event.messages, event.selected_id, event.documents)
        self.status.set_context(event.cached_tokens, self.state.settings.context_limit)
        self.prompt.prompt_history = [m.content for m in event.messages if m.role == "user"]
        await self._show_branch_switchers(event.session_id)

    @on(Core.DocumentProgress)
    @on(Core.DocumentAdded)
    async def _document_event(self, message: Message) -> None:
        await self.documents.show(message.event)

    @on(Core.SummaryDone)
    def _summary_done(self, message: Core.SummaryDone) -> None:
        self.notify(f"Summary of {message.event.what} written.", timeout=5)

    @on(Core.SessionsChanged)
    async def _sessions_changed(self) -> None:
        await self.sidebar.reload(self.state.session_id)

    # Last, so that the status bar holds the chat's new size when the draft is counted.
    @on(Core.ModelLoaded)
    @on(Core.SessionOpened)
    @on(Core.ContextCounted)
    @on(Core.TurnFinished)
    @on(Core.JobFinished)
    def _count_draft(self) -> None:
        """The tokenizer or the room left (a turn, a chat, the settings) may have changed."""
        self.prompt.count_draft(self.status.context_used)
