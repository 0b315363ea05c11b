"""The chat screen's answers (``TurnFlow``): sending, regenerating, continuing, and the answer's
engine events; and the checks an action makes before it starts (busy, no model, chat not saved
yet), which the screen and its document flow share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from textual.screen import Screen
from textual.widget import Widget

from llama_chat.events import (
    Event,
    JobFailed,
    JobFinished,
    MessageRefused,
    TextDelta,
    ToolCallRequested,
    ToolResultReady,
    TurnFinished,
    TurnStarted,
)
from llama_chat.tui.state import TURN_JOBS, ChatApp, chat_app
from llama_chat.tui.widgets.branch_switcher import learn_saved_ids
from llama_chat.tui.widgets.message import UserMessage
from llama_chat.tui.widgets.message_cursor import cut_off_answer
from llama_chat.tui.widgets.message_list import MessageList
from llama_chat.tui.widgets.preset_completion import PresetCompletion
from llama_chat.tui.widgets.priority_footer import PriorityFooter
from llama_chat.tui.widgets.prompt_input import PromptInput
from llama_chat.tui.widgets.session_sidebar import SessionSidebar
from llama_chat.tui.widgets.status_bar import StatusBar

T = TypeVar("T")


async def show_saved(screen: Screen, session_id: int | None, *, start: bool = False) -> None:
    """Show the saved chat, its newest messages (or its ``start``). Read in a thread: a long
    chat takes a while, and the store waits while the engine writes to it; the screen goes on
    drawing meanwhile. A failed read is one line, and the screen stays as it was."""
    queries = chat_app(screen).controller.queries
    chat = await _read(screen, "the chat", queries.shown_chat, session_id)
    if chat is not None:
        messages = screen.query_one(MessageList)
        await (messages.show_start(*chat) if start else messages.show_stored(*chat))


async def read_branches(screen: Screen, session_id: int | None) -> dict[int, tuple[int, int]]:
    """Where the chat has other branches, read in a thread as ``show_saved`` reads; none is
    shown when the read failed (one line says why)."""
    queries = chat_app(screen).controller.queries
    positions = await _read(screen, "the chat's branches", queries.branch_positions, session_id)
    return positions if positions is not None else {}


async def _read(
    screen: Screen, what: str, read: Callable[[int | None], T], session_id: int | None
) -> T | None:
    try:
        return await asyncio.to_thread(read, session_id)
    except Exception as exc:  # noqa: BLE001 (whatever failed, the user gets one line)
        detail = " ".join(str(exc).split()) or type(exc).__name__
        screen.notify(f"Could not read {what}: {detail}", severity="error", timeout=15)
        return None


def refuse_while_busy(screen: Screen) -> bool:
    busy = chat_app(screen).busy
    if busy:
        screen.notify("An answer is being written. Press Esc to stop it first.", severity="warning")
    return busy


def require_session(screen: Screen) -> bool:
    if chat_app(screen).session_id is None:
        screen.notify("This chat is not saved yet: send a message first.", severity="warning")
        return False
    return True


def can_start(screen: Screen) -> bool:
    if refuse_while_busy(screen):
        return False
    model_state = chat_app(screen).model_state
    if model_state != "ready":
        why = "is still loading" if model_state == "loading" else "did not load"
        screen.notify(f"The model {why}; your message is kept in the box.", severity="warning")
        return False
    return True


def start_turn(screen: Screen) -> None:
    # The app is busy from the job's JobStarted, which the controller emits as it is asked.
    screen.query_one(MessageList).begin_turn()
    screen.query_one(StatusBar).set_activity("thinking…")
    screen.query_one(PriorityFooter).hold()  # until the first text (TurnFlow.show)


async def begin_answer(screen: Screen, *sent: Widget) -> None:
    """Like start_turn, for a turn that answers: ``sent`` and the answer's box are mounted
    (laid out once, with the status, while the engine reads the prompt)."""
    with screen.app.batch_update():
        screen.query_one(StatusBar).set_activity("thinking…")
        screen.query_one(PriorityFooter).hold()
        await screen.query_one(MessageList).begin_answer(*sent)


class ChatPart:
    """A part of the chat screen that is not a widget: it reaches the screen's widgets and the
    app state through the screen it is given."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    @property
    def state(self) -> ChatApp:
        return chat_app(self.screen)

    @property
    def messages(self) -> MessageList:
        return self.screen.query_one(MessageList)

    @property
    def prompt(self) -> PromptInput:
        return self.screen.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.screen.query_one(StatusBar)

    @property
    def sidebar(self) -> SessionSidebar:
        return self.screen.query_one(SessionSidebar)


class TurnFlow(ChatPart):
    """Answers: sending (typed, through a preset, editing the last message), regenerating,
    continuing, and showing the answer's engine events as they come."""

    def __init__(self, screen: Screen) -> None:
        super().__init__(screen)
        self._new_chat: int | None = None
        """A chat saved by the answer being written, whose sidebar row waits for its text."""

    async def submit(self, text: str) -> bool:
        """Send ``text`` from the box; True when it went out (the box's draft changed)."""
        if self.state.model_state == "loading" and not self.state.busy:
            self.prompt.wait_for_model()  # sent by itself once the model is ready
            return False
        if self.completion.is_invocation(text) and not self.state.editing:
            return await self._send_preset(text)
        if not can_start(self.screen):
            return False
        self.prompt.remember(text)
        self.prompt.clear()
        # The engine starts first and reads the prompt while the screen mounts the message:
        # its events wait in this screen's queue until this handler is done.
        if self.state.editing:
            self.state.editing = False
            self.state.controller.edit_last(text)
            self.prompt.unstash()
            last_user = self.messages.last_user()
            if last_user is not None:
                await self.messages.remove_after(last_user, inclusive=True)
        else:
            self.state.controller.send(text)
        await begin_answer(self.screen, UserMessage(text))
        return True

    @property
    def completion(self) -> PresetCompletion:
        return self.screen.query_one(PresetCompletion)

    def send_waiting(self, model_state: str) -> None:
        """A message held while the model loaded goes out now (or stays in the box, editable)."""
        if model_state == "loading" or self.prompt.waiting is None:
            return
        text = self.prompt.stop_waiting()
        if model_state == "ready" and text:
            self.prompt.post_message(PromptInput.Submitted(self.prompt, text))
        else:
            self.screen.notify(
                "The model did not load; your message is kept in the box.", severity="warning"
            )

    async def _send_preset(self, typed: str) -> bool:
        """Send ``typed`` (it starts with "/name") through its preset. A problem (unknown name,
        nothing to work on) is a warning, and the text stays in the box."""
        prepared = self.completion.prepare(typed, self.state.controller.last_answer())
        if prepared is None or not can_start(self.screen):
            return False
        preset, message = prepared
        self.prompt.remember(typed)
        self.prompt.clear()
        self.state.controller.send_with_preset(message, preset)
        await begin_answer(self.screen, UserMessage(message))
        return True

    async def regenerate(self) -> None:
        if not can_start(self.screen):
            return
        last_turn = self.messages.last_turn()  # an attached document is answered again too
        if last_turn is None:
            self.screen.notify("There is no message to answer again yet.", severity="warning")
            return
        # The screen first: this runs from a key binding, outside the screen's queue, so the
        # engine's events could otherwise come before the old answer is gone and the box is in.
        await self.messages.remove_after(last_turn)
        await begin_answer(self.screen)
        self.state.controller.regenerate()

    def edit_last(self) -> None:
        if refuse_while_busy(self.screen):
            return
        last_user = self.messages.last_turn()
        if last_user is None:
            self.screen.notify("There is no message to edit yet.", severity="warning")
            return
        if not isinstance(last_user, UserMessage):
            self.screen.notify(
                "The last message is a document: ask about it instead.", severity="warning"
            )
            return
        self.prompt.stash_and_set(last_user.text)
        self.prompt.focus()
        self.state.editing = True

    def continue_answer(self) -> None:
        answer = cut_off_answer(self.messages.selectable())
        if answer is None or not can_start(self.screen):
            return
        start_turn(self.screen)
        self.messages.answer = answer  # the new text streams into the same message
        self.state.controller.continue_answer()

    # -- the answer's engine events -------------------------------------------------------------

    async def show(self, event: Event) -> None:
        """Show one engine event of the answer being written."""
        await self._show(event)
        if isinstance(event, JobFinished | JobFailed):
            if event.job in TURN_JOBS:
                self._waited()
        elif not isinstance(event, TurnStarted):
            self._waited()

    def _waited(self) -> None:
        """The answer's first text, or its end, is on the screen: what waited for it goes on
        (until then the screen's work is kept to what the user waits for, as the engine needs
        the CPU to read the prompt)."""
        self.screen.query_one(PriorityFooter).release()
        if self._new_chat is not None:  # on the sidebar's own queue: the text does not wait
            self.sidebar.call_later(self.sidebar.chat_changed, self._new_chat)
            self._new_chat = None

    async def _show(self, event: Event) -> None:
        match event:
            case TurnStarted():
                await self._turn_started(event)
            case MessageRefused():
                await self._message_refused(event)
            case TextDelta():
                if self.status.activity_text != "writing…":  # after reading the prompt, a tool
                    self.status.set_activity("writing…")
                await self.messages.append_answer(event.text)
            case ToolCallRequested():
                await self.messages.show_tool_call(event)
                self.status.set_activity(f"tool call: {event.call.name}")
            case ToolResultReady():
                await self.messages.show_tool_result(event)
                self.status.set_activity("thinking…")
            case TurnFinished():
                await self._turn_finished(event)
            case JobFailed() if event.job in TURN_JOBS:
                await self.messages.fail_answer(event.message)
            case JobFinished() if event.job in TURN_JOBS:
                await self._turn_job_finished()

    async def _turn_started(self, event: TurnStarted) -> None:
        user = self.messages.last_user()
        if self.messages.newer:  # the view showed the chat's start: the answer goes at its end
            await show_saved(self.screen, event.session_id)
            self.messages.follow()
        elif user is not None and user.message_id is None:
            user.message_id = event.user_message_id
        if event.session_id != self.state.session_id:  # the chat's first message: now saved
            self._new_chat = event.session_id  # its row is added once the first text is shown

    async def _message_refused(self, event: MessageRefused) -> None:
        """Nothing was saved: show the chat as stored and give the text back to edit."""
        self.messages.turn_ended = True
        await show_saved(self.screen, self.state.session_id)
        self.prompt.set_text(event.text)
        self.screen.notify(
            f"Your message was not sent: {event.reason}.", severity="warning", timeout=15
        )

    async def _turn_finished(self, event: TurnFinished) -> None:
        await self.messages.finish_answer(event)
        self.status.set_activity("")
        self.status.turn_stats(event.stats)
        if event.error:
            self.screen.notify(f"The answer failed: {event.error}", severity="error", timeout=10)
        if self.state.session_id is not None:  # its row moves to the top, the others stay
            self.sidebar.call_later(self.sidebar.chat_changed, self.state.session_id)
        children, user = list(self.messages.children), self.messages.last_user()
        learn_saved_ids(children, user, self.messages.finished, event)  # for the branch switchers

    async def _turn_job_finished(self) -> None:
        session_id = self.state.session_id
        if not self.messages.turn_ended and session_id is not None:
            # The controller declined the job (no model, nothing to regenerate): show what is
            # saved rather than what this screen had already removed for the new answer.
            await show_saved(self.screen, session_id)
        if self.status.activity_text in ("thinking…", "stopping…", "writing…"):
            self.status.set_activity("")
