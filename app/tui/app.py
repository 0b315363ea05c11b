"""The Textual app: owns the ChatController and carries its events onto the UI thread.

The controller works on its own engine thread and calls back from there; ``post_message`` is
thread-safe, so engine events become Textual messages and are handled on the UI thread. A tool
approval blocks the engine thread on a Future that the approval dialog answers.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from llama_chat.controller import ChatController
from llama_chat.events import ModelLoaded, ModelLoadFailed
from llama_chat.models.store import HUB_REPOS, QUANT_BITS, ModelStore, ModelStoreError
from llama_chat.paths import AppPaths
from llama_chat.resources import asset_path
from llama_chat.settings import Settings, save_settings
from llama_chat.tools import ToolCall
from llama_chat.tui.commands import SessionPicker, chat_commands
from llama_chat.store.export import default_export_dir, export_session
from llama_chat.tui.messages import ApprovalRequested, EngineEvent, TurnDone
from llama_chat.tui.screens.chat import ChatScreen
from mlx_model import ModelConfig, memory_needed

RESTART_WITH_DEMO = "restart-with-demo"
"""What the app returns when the user picked the demo on the welcome screen."""


class LlamaChatApp(App[str | None]):
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
    ]

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
        self._early_events: list[Any] = []
        self.controller = ChatController(
            settings,
            paths,
            self._early_events.append,
            model_dir=model_dir,
            demo=demo,
            offline=offline,
        )
        self.controller.on_event = self._post_engine_event
        self.controller.approver = self._ask_approval
        self._pending_approvals: set[Future] = set()
        self._approvals_lock = threading.Lock()
        self._closed = False
        self._shut_down = False
        self._chat = ChatScreen()

    @property
    def chat(self) -> ChatScreen:
        """The main screen (always at the bottom of the screen stack)."""
        return self._chat

    def get_default_screen(self) -> Screen:
        return self._chat

    async def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(
                f"Unknown theme {self.settings.theme!r}; using the default.", severity="warning"
            )
        for warning in self.settings_warnings:
            self.notify(warning, title="Settings", severity="warning", timeout=15)
        for event in self._early_events:
            await self.chat.handle_event(event)
        # After the first paint: the model loads behind the screen, never in front of it.
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        missing = self._missing_default_model()
        if missing:
            self.show_welcome(f"Not on disk yet: {', '.join(missing[:3])}.")
        else:
            self.controller.load_model()

    def _missing_default_model(self) -> list[str]:
        if self.demo or self.model_dir is not None:
            return []
        try:
            return ModelStore(self.settings, offline=self.offline).missing_files(
                self.settings.quant
            )
        except (OSError, ModelStoreError):
            return []  # let the load itself fail and say why

    # -- engine bridge (engine thread -> UI thread) ---------------------------------------

    def _post_engine_event(self, event: Any) -> None:
        self.post_message(EngineEvent(event))

    async def on_engine_event(self, message: EngineEvent) -> None:
        await self.chat.handle_event(message.event)

    def watch_turn(self, future: Future) -> None:
        """Tell the chat screen when a send/regenerate/edit job ends, however it ends."""
        future.add_done_callback(lambda done: self.post_message(TurnDone(done)))

    async def on_turn_done(self, message: TurnDone) -> None:
        await self.chat.turn_done(message.future)

    def _ask_approval(self, call: ToolCall) -> str | bool:
        """Runs on the engine thread: blocks until the user answers the dialog."""
        answer: Future = Future()
        with self._approvals_lock:
            if self._closed:
                return False
            self._pending_approvals.add(answer)
        try:
            if not self.post_message(ApprovalRequested(call, answer)):
                return False  # the app is closing: nobody can say yes
            return answer.result()
        finally:
            with self._approvals_lock:
                self._pending_approvals.discard(answer)

    def on_approval_requested(self, message: ApprovalRequested) -> None:
        from llama_chat.tui.screens.tool_approval import ToolApprovalScreen

        def answered(result: str | bool | None) -> None:
            if not message.answer.done():
                message.answer.set_result(result or False)

        self.push_screen(ToolApprovalScreen(message.call), answered)

    def _deny_pending_approvals(self) -> None:
        with self._approvals_lock:
            self._closed = True
            for answer in self._pending_approvals:
                if not answer.done():
                    answer.set_result(False)

    # -- model ----------------------------------------------------------------------------

    def model_label(self, event: ModelLoaded) -> str:
        if event.demo:
            return f"DEMO {event.quant} · random weights: meaningless text"
        if self.model_dir is not None:
            return f"{Path(self.model_dir).name} · {event.quant}"
        return f"Llama 3.2 3B Instruct · {event.quant}"

    def model_loaded(self, event: ModelLoaded) -> None:
        try:
            self.model_config = ModelConfig.from_file(event.path / "config.json")
        except (OSError, ValueError):
            self.model_config = None

    def model_failed(self, event: ModelLoadFailed) -> None:
        missing = self._missing_default_model()
        if missing:
            self.show_welcome(event.message)
        else:
            self.notify(event.message, title="The model did not load", severity="error", timeout=30)

    def reference_config(self) -> ModelConfig:
        """The loaded model's config, or Llama 3.2 3B's shape before one is loaded."""
        if self.model_config is not None:
            return self.model_config
        from mlx_model.testing import LLAMA_3B_SHAPE, tiny_config_dict

        return ModelConfig.from_dict(tiny_config_dict(LLAMA_3B_SHAPE))

    @work(exclusive=True, group="welcome")
    async def show_welcome(self, reason: str) -> None:
        from llama_chat.tui.screens.welcome import WelcomeScreen

        quant = "4bit"
        size = memory_needed(self.reference_config(), QUANT_BITS[quant], 0, None).weights_bytes
        choice = await self.push_screen_wait(
            WelcomeScreen(quant=quant, repo=HUB_REPOS[quant], download_gb=size / 1e9, reason=reason)
        )
        if choice.action == "quit":
            await self.action_quit()
        elif choice.action == "demo":
            await self.shutdown()
            self.exit(RESTART_WITH_DEMO)
        elif choice.action == "download":
            self._save_and_apply(replace(self.settings, quant=quant, offline=False))
            self.offline = False
            self.controller.offline = False
            self.controller.load_model(quant)
        elif choice.action == "folder":
            dirs = {**self.settings.model_dir, self.settings.quant: str(choice.folder)}
            self._save_and_apply(replace(self.settings, model_dir=dirs))
            self.controller.load_model()

    # -- settings -------------------------------------------------------------------------

    @work(exclusive=True, group="settings")
    async def open_settings(self) -> None:
        from llama_chat.tui.screens.settings import SettingsScreen

        chat = self.chat
        session_prompt = None
        if chat.session_id is not None:
            session_prompt = self.controller.store.get_session(chat.session_id).system_prompt
        result = await self.push_screen_wait(
            SettingsScreen(
                self.settings,
                model_config=self.reference_config(),
                session_system_prompt=session_prompt,
                themes=self.available_themes,
            )
        )
        if result is None:
            return
        old = self.settings
        self._save_and_apply(result.settings)
        if result.settings.theme in self.available_themes:
            self.theme = result.settings.theme
        if result.session_system_prompt is not None and chat.session_id is not None:
            store = self.controller.store
            store.set_session_settings(
                chat.session_id,
                store.get_session(chat.session_id).settings,
                system_prompt=result.session_system_prompt,
            )
            self.controller.open_session(chat.session_id)  # re-read with the new prompt
        if result.settings.quant != old.quant or (
            chat.model_state == "failed" and result.settings != old
        ):
            self.controller.load_model(result.settings.quant)
        self.notify("Settings saved.")

    def _save_and_apply(self, settings: Settings) -> None:
        try:
            save_settings(settings, self.paths.settings_file)
        except OSError as exc:
            self.notify(
                f"Could not save {self.paths.settings_file}: {exc.strerror}. "
                "The new settings apply until you quit.",
                severity="error",
            )
        self.settings = settings
        self.controller.apply_settings(settings)

    # -- saved chats ----------------------------------------------------------------------

    def open_session(self, session_id: int) -> None:
        if not self.chat.refuse_while_busy():
            self.controller.open_session(session_id)

    @work(group="sessions")
    async def rename_session(self, session_id: int) -> None:
        from llama_chat.tui.screens.dialogs import RenameDialog

        title = self.chat.session_title(session_id)
        if title is None:
            return
        new_title = await self.push_screen_wait(RenameDialog(title))
        if new_title:
            self.controller.store.rename_session(session_id, new_title)
            await self.chat.sidebar.reload()

    @work(group="sessions")
    async def delete_session(self, session_id: int) -> None:
        from llama_chat.tui.screens.dialogs import ConfirmDialog

        title = self.chat.session_title(session_id)
        if title is None:
            return
        question = f"Delete the chat “{title}” and all its messages? This cannot be undone."
        if not await self.push_screen_wait(ConfirmDialog(question, "Delete")):
            return
        if session_id == self.chat.session_id:
            self.controller.new_session()  # leave it first, so its cache is not saved again
        self.controller.store.delete_session(session_id)
        # On the engine thread, after any cache save queued before it.
        self.controller.engine.submit(self.controller.cache_store.delete_session, session_id)
        await self.chat.sidebar.reload()
        self.notify(f"Deleted “{title}”.")

    @work(group="sessions")
    async def ask_export(self, session_id: int) -> None:
        from llama_chat.tui.screens.dialogs import ExportDialog

        title = self.chat.session_title(session_id)
        if title is None:
            return
        fmt = await self.push_screen_wait(ExportDialog(title, str(self.export_folder())))
        if fmt:
            self.export_session(session_id, fmt)

    def export_folder(self) -> Path:
        return self.export_dir or default_export_dir()

    def export_session(self, session_id: int, fmt: str) -> Path | None:
        try:
            path = export_session(self.controller.store, session_id, fmt, self.export_folder())
        except OSError as exc:
            self.notify(f"Could not write the export: {exc}", severity="error")
            return None
        self.notify(f"Exported to {path}", title="Export", timeout=15)
        return path

    # -- misc actions ---------------------------------------------------------------------

    def copy_text(self, text: str) -> None:
        """pbcopy on macOS (works in every terminal there); elsewhere OSC 52 via Textual."""
        if sys.platform == "darwin":
            try:
                subprocess.run(["pbcopy"], input=text.encode(), check=True, timeout=5)
            except (OSError, subprocess.SubprocessError) as exc:
                self.notify(f"pbcopy failed ({exc}); trying the terminal.", severity="warning")
            else:
                self.notify("Copied the last answer.")
                return
        self.copy_to_clipboard(text)
        self.notify("Copied the last answer (if your terminal allows clipboard access).")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if isinstance(screen, ChatScreen):
            yield from chat_commands(screen)
        yield from super().get_system_commands(screen)

    # -- quitting -------------------------------------------------------------------------

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit()

    async def shutdown(self) -> None:
        """Stop any answer, answer open tool dialogs with "no", save the KV cache."""
        if self._shut_down:
            return
        self._shut_down = True
        self._deny_pending_approvals()
        try:
            await asyncio.to_thread(self.controller.close)
        except TimeoutError:
            pass  # the engine is stuck; the chat itself is already committed
        self.controller.store.close()

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
