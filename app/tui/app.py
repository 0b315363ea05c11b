"""The Textual app: wiring only. It owns the controller, the event bridge and the UI state.

Engine events reach the chat screen through the bridge (bridge.py); what the screen does not
stop bubbles here, where the app-wide state is kept: the model's state, whether an answer is
being written, the open chat. The flows behind the keys live with their screens.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from llama_chat.controller import BUSY_JOBS, ChatController
from llama_chat.events import Event, JobStarted
from llama_chat.paths import AppPaths
from llama_chat.resources import asset_path
from llama_chat.settings import Settings, save_settings
from llama_chat.tui.bridge import Core, EventBridge
from llama_chat.tui.commands import SessionPicker, chat_commands
from llama_chat.tui.keys import unknown_binding_ids
from llama_chat.tui.ordered_keys import OrderedKeysApp
from llama_chat.tui.screens.chat import ChatScreen, all_bindings
from llama_chat.tui.screens.tool_approval import ApprovalGate, show_approval
from llama_chat.tui.screens.welcome import model_problem, run_welcome
from llama_chat.tui.state import ModelState, SaveWhen
from mlx_model import LLAMA_3_2_3B, ModelConfig

RESTART_WITH_DEMO = "restart-with-demo"
"""What the app returns when the user picked the demo on the welcome screen."""


class LlamaChatApp(OrderedKeysApp[str | None]):
    TITLE = "llama-chat"
    COMMANDS = App.COMMANDS | {SessionPicker}
    BINDINGS = [
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="quit",
            priority=True,
            tooltip="Quit (the chat is saved, and so is its KV cache for a fast resume)",
        ),
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            id="command_palette",
            show=False,
            priority=True,
            tooltip="Command palette: every action, and open any chat by name",
        ),
    ]

    model_state: reactive[ModelState] = reactive("loading", bindings=True)
    """Whether a model is loading, ready to answer, or failed to load."""
    busy = reactive(False, bindings=True)
    """A job that writes an answer or attaches a document is queued or running: from its
    JobStarted to its JobFinished (controller.BUSY_JOBS)."""
    editing = reactive(False, bindings=True)
    """The next message replaces the last one the user sent."""
    session_id: reactive[int | None] = reactive(None, bindings=True)
    """The open chat's id; None for a new chat that has no messages yet."""

    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        *,
        demo: bool = False,
        model_dir: Path | None = None,
        offline: bool = False,
        settings_warnings: Iterable[str] = (),
        export_dir: Path | None = None,
    ) -> None:
        super().__init__(css_path=asset_path("llama_chat.tcss"))
        self.settings = settings
        self.paths = paths
        self.demo = demo
        self.model_dir = model_dir
        self.offline = offline
        self.settings_warnings = list(settings_warnings)
        self.export_dir = export_dir
        self.model_config: ModelConfig | None = None
        """Config of the loaded model (for the settings screen's memory check)."""
        self.bridge = EventBridge()
        self._ui_thread = threading.get_ident()
        self.controller = ChatController(
            settings, paths, self._core_event, model_dir=model_dir, demo=demo, offline=offline
        )
        self._save_after_load = False
        """Settings chosen on the welcome screen wait for the model to load before saving."""
        self.approvals = ApprovalGate(self)
        self.controller.approver = self.approvals.ask
        self._shut_down = False
        self.chat = ChatScreen()
        """The main screen (always at the bottom of the screen stack)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Show a notification, always as plain text (``markup`` is ignored).

        Messages carry file names, chat titles, tool calls and error text: read as markup,
        ``[/]`` raises while the toast draws and ``[@click=...]`` becomes an action. Screens'
        ``notify`` passes ``markup=True`` by default, hence plain text here, for every caller.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def get_default_screen(self) -> Screen:
        return self.chat

    def refresh_bindings(self) -> None:
        # The state reactives refresh the footer; while the app closes there may be no screen.
        if self.screen_stack:
            super().refresh_bindings()

    def _core_event(self, event: Event) -> None:
        """The controller's ``on_event`` (any thread): the bridge takes each event to the UI.

        A JobStarted comes on the UI thread, from the call that asked for the job: the app is
        busy at once, so a key handled before the event's message cannot start a second job.
        """
        if isinstance(event, JobStarted) and threading.get_ident() == self._ui_thread:
            self.busy = True
        self.bridge.post(event)

    def on_mount(self) -> None:
        self._ui_thread = threading.get_ident()
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(
                f"Unknown theme {self.settings.theme!r}; using the default.", severity="warning"
            )
        self.watch(self, "theme", self._save_theme, init=False)
        for warning in self.settings_warnings:
            self.notify(warning, title="Settings", severity="warning", timeout=15)
        self._apply_keys(self.settings.keys)
        self.bridge.attach(self.chat)
        # After the first paint: the model loads behind the screen, never in front of it.
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        problem = model_problem(self)
        if problem:
            self.show_welcome(problem)
        else:
            self.controller.load_model()

    # -- app-wide state from engine events (after the chat screen has shown them) -------------

    @on(Core.ModelLoading)
    def _model_loading(self) -> None:
        self.model_state = "loading"

    @on(Core.ModelLoaded)
    def _model_loaded(self, message: Core.ModelLoaded) -> None:
        self.model_config = message.event.config
        self.model_state = "ready"
        if self._save_after_load:
            self._save_after_load = False
            self._save(self.settings)

    @on(Core.ModelLoadFailed)
    def _model_failed(self, message: Core.ModelLoadFailed) -> None:
        self.model_state = "failed"
        # A choice made on the welcome screen that did not work: offer the choices again.
        retry, self._save_after_load = self._save_after_load, False
        if retry or model_problem(self):
            self.show_welcome(message.event.message)
        else:
            self.notify(
                message.event.message, title="The model did not load", severity="error", timeout=30
            )

    @on(Core.SessionOpened)
    def _session_opened(self, message: Core.SessionOpened) -> None:
        session = message.event.session
        self.session_id = session.id if session is not None else None
        self.editing = False

    @on(Core.TurnStarted)
    def _turn_started(self, message: Core.TurnStarted) -> None:
        self.session_id = message.event.session_id

    @on(Core.DocumentAdded)
    def _document_added(self, message: Core.DocumentAdded) -> None:
        self.session_id = message.event.document.session_id  # a new chat is saved with it

    @on(Core.JobStarted)
    def _job_started(self) -> None:
        self.busy = True

    @on(Core.JobFailed)
    def _job_failed(self, message: Core.JobFailed) -> None:
        self.notify(message.event.message, severity="error", timeout=30)

    @on(Core.JobFinished)
    def _job_finished(self, message: Core.JobFinished) -> None:
        if message.event.job in BUSY_JOBS:
            self.busy = False

    @on(Core.Notice)
    def _notice(self, message: Core.Notice) -> None:
        self.notify(message.event.message, severity=message.event.severity, timeout=10)

    @on(Core.Exported)
    def _exported(self, message: Core.Exported) -> None:
        self.notify(f"Exported to {message.event.path}", title="Export", timeout=15)

    @on(Core.ContextTrimmed)
    def _context_trimmed(self, message: Core.ContextTrimmed) -> None:
        event = message.event
        self.notify(
            f"The chat is longer than the context limit ({event.context_limit:,} tokens): "
            f"the oldest {event.dropped_messages} message(s) are no longer seen by the model.",
            severity="warning",
        )

    @on(ApprovalGate.Requested)
    def _approval_requested(self, message: ApprovalGate.Requested) -> None:
        show_approval(self, message)

    # -- services for the screens (see state.ChatApp) -----------------------------------------

    def reference_config(self) -> ModelConfig:
        """The loaded model's config, or Llama 3.2 3B's before one is loaded."""
        return self.model_config or LLAMA_3_2_3B

    def export_folder(self) -> Path:
        return self.export_dir or self.paths.documents_dir

    def apply_settings(
        self,
        settings: Settings,
        session_system_prompt: str | None = None,
        *,
        save: SaveWhen = "now",
    ) -> None:
        """Save the settings file (now, or once the model has loaded with them) and hand the
        settings to the controller."""
        self._save_after_load = save == "after_load"
        if not self._save_after_load:
            self._save(settings)
        self.settings = settings
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        self._apply_keys(settings.keys)
        self.controller.apply_settings(settings, session_system_prompt)

    def _apply_keys(self, keys: dict[str, str]) -> None:
        unknown = unknown_binding_ids(keys, all_bindings(self))
        if unknown:
            self.notify(
                f"settings.json: no key binding has the id {', '.join(map(repr, unknown))} "
                "(the help screen lists the ids); that remapping is ignored.",
                title="Settings",
                severity="warning",
                timeout=15,
            )
        self.set_keymap(keys)

    def _save(self, settings: Settings) -> None:
        try:
            save_settings(settings, self.paths.settings_file)
        except OSError as exc:
            self.notify(
                f"Could not save {self.paths.settings_file}: {exc.strerror}. "
                "The new settings apply until you quit.",
                severity="error",
            )

    def _save_theme(self, theme: str) -> None:
        """A theme picked anywhere (the palette too) is the one the app starts with next."""
        if theme == self.settings.theme:
            return
        self.settings = replace(self.settings, theme=theme)
        try:
            save_settings(self.settings, self.paths.settings_file)
        except OSError as exc:
            self.notify(f"Could not save the theme: {exc.strerror}.", severity="warning")

    @work(exclusive=True, group="welcome")
    async def show_welcome(self, reason: str) -> None:
        await run_welcome(self, reason)

    async def restart_with_demo(self) -> None:
        await self.shutdown()
        self.exit(RESTART_WITH_DEMO)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if isinstance(screen, ChatScreen):
            yield from chat_commands(screen)
        yield from super().get_system_commands(screen)

    # -- quitting -----------------------------------------------------------------------------

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit()

    async def shutdown(self) -> None:
        """Stop any answer, answer open tool dialogs with "no", save the KV cache."""
        if self._shut_down:
            return
        self._shut_down = True
        self.chat.save_draft()  # queued before the close job, so it is written
        self.bridge.close()
        self.approvals.deny_all()
        try:
            await asyncio.to_thread(self.controller.close)
        except TimeoutError:
            pass  # the engine is stuck; the chat itself is already committed

    async def on_unmount(self) -> None:
        await self.shutdown()


# The app factory: tests and run_tui build the app the same way.
create_app = LlamaChatApp


def run_tui(
    settings: Settings,
    paths: AppPaths,
    *,
    demo: bool,
    model_dir: Path | None,
    offline: bool,
    settings_warnings: list[str],
) -> int:
    """Run the app until the user quits; returns the exit status."""
    while True:
        app = create_app(
            settings,
            paths,
            demo=demo,
            model_dir=model_dir,
            offline=offline,
            settings_warnings=settings_warnings,
        )
        result = app.run()
        if result != RESTART_WITH_DEMO:
            return app.return_code or 0
        demo, model_dir, settings_warnings = True, None, []
        settings = app.settings
