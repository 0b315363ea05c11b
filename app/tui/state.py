"""What screens and widgets may ask of the app, as a typed protocol (no import of app.py).

The app module wires everything together and imports the screens; the screens reach the app's
state and its few shared services only through ``ChatApp``, so nothing imports app.py back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, cast

from textual.dom import DOMNode

from llama_chat.controller import ChatController
from llama_chat.events import Job
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from mlx_model import ModelConfig

ModelState = Literal["loading", "ready", "failed"]
SaveWhen = Literal["now", "after_load"]

TURN_JOBS = frozenset(
    {Job.SEND, Job.REGENERATE, Job.EDIT, Job.CONTINUE, Job.SUMMARIZE_CHAT, Job.RESUMMARIZE}
)
"""Jobs that write an answer (the app is busy while they run: see controller.BUSY_JOBS)."""


class ChatApp(Protocol):
    controller: ChatController
    settings: Settings
    paths: AppPaths
    demo: bool
    model_dir: Path | None
    offline: bool
    model_config: ModelConfig | None
    model_state: ModelState
    busy: bool
    editing: bool
    session_id: int | None

    def reference_config(self) -> ModelConfig: ...

    def export_folder(self) -> Path: ...

    def apply_settings(
        self,
        settings: Settings,
        session_system_prompt: str | None = None,
        *,
        save: SaveWhen = "now",
    ) -> None: ...

    async def restart_with_demo(self) -> None: ...

    async def action_quit(self) -> None: ...


def chat_app(node: DOMNode) -> ChatApp:
    """The running app, seen through ``ChatApp``."""
    return cast(ChatApp, node.app)
