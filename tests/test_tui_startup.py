"""Starting the app: first paint, warnings, the welcome screen, model download progress."""

from __future__ import annotations

import pytest
from textual.widgets import Input, ProgressBar

from llama_chat.events import DownloadProgressEvent, Job, ModelLoading, Notice
from llama_chat.settings import Settings, load_settings
from llama_chat.tui.app import RESTART_WITH_DEMO
from llama_chat.tui.screens.welcome import WelcomeScreen
from tests.tui_pilot import SIZE, DrivenApp, make_app, model_ready, on_screen, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def no_hub_cache(tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))


async def test_first_screen_paints_before_the_model_has_loaded(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        # The load starts after the first paint, so the chat is there before the model is.
        assert app.screen is app.chat and app.chat.prompt.has_focus
        assert app.model_state == "loading"
        await pilot.press(*"typing while it loads")  # the UI is not blocked by the load
        assert app.chat.prompt.text == "typing while it loads"
        await model_ready(pilot)
        assert "DEMO" in app.chat.status.model_text
        assert "meaningless" in app.chat.status.model_text
        assert app.model_config is not None and app.reference_config() is app.model_config


async def test_settings_warnings_and_notices_become_notifications(paths):
    app = DrivenApp(
        Settings(), paths, demo=True, settings_warnings=["settings.json: 'temperature' = 9"]
    )
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.controller.on_event(Notice("the database was recovered", "warning"))
        await wait_for(pilot, lambda: any("recovered" in m for m, _ in app.notices), "the notice")
    assert ("settings.json: 'temperature' = 9", "warning") in app.notices
    assert ("the database was recovered", "warning") in app.notices


async def test_a_recovered_database_is_reported_at_startup(paths):
    # The controller says so while the app is being built, before any screen exists.
    paths.sessions_db.write_bytes(b"this is not a database" * 100)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await wait_for(
            pilot,
            lambda: any("could not be read" in m and "moved" in m for m, _ in app.notices),
            "the recovery notice",
        )


async def test_download_progress_shows_in_the_status_bar(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        # The load queued a read of the open chat; its end clears the status bar's activity,
        # so it must be over before the download's progress is shown there.
        await wait_for(
            pilot, lambda: any(j.job == Job.READ_CHAT for j in app.finished_jobs), "the read"
        )
        bar = app.chat.status.query_one("#status-progress", ProgressBar)
        assert not bar.display
        # Events as the controller emits them while it downloads (from another thread).
        emit = app.controller.on_event
        emit(ModelLoading("4bit", "4bit"))
        emit(
            DownloadProgressEvent(
                "4bit", "model.safetensors", 900_000_000, 1_800_000_000, 12e6, 75.0
            )
        )
        await wait_for(pilot, lambda: "downloading" in app.chat.status.activity_text, "progress")
        assert "0.90/1.80 GB" in app.chat.status.activity_text
        assert "12.0 MB/s" in app.chat.status.activity_text
        assert bar.display and bar.percentage == 0.5
        assert app.model_state == "loading"


async def test_welcome_screen_offers_download_folder_or_demo(paths, tmp_path, no_hub_cache):
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        label = str(app.screen.query_one("#download").label)
        assert "4bit" in label and "1.8 GB" in label
        app.screen.query_one("#folder", Input).value = str(tmp_path / "nowhere")
        await pilot.click("#use-folder")
        await wait_for(
            pilot,
            lambda: "is not a folder" in str(app.screen.query_one("#folder-error").render()),
            "the folder error",
        )
        assert app.model_state != "ready"  # nothing was loaded or downloaded unasked
        await pilot.click("#demo")
        # The choice is acted on by a worker: wait for it rather than for a fixed time.
        await wait_for(pilot, lambda: app.return_value is not None, "the app to exit")
    assert app.return_value == RESTART_WITH_DEMO


async def test_welcome_screen_loads_a_local_model_folder(paths, demo_checkpoint, no_hub_cache):
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        app.screen.query_one("#folder", Input).value = str(demo_checkpoint)
        await pilot.click("#use-folder")
        await model_ready(pilot)
        assert "Llama 3.2 3B Instruct · 4bit" in app.chat.status.model_text
    saved, _ = load_settings(paths.settings_file)
    assert saved.model_dir == {"4bit": str(demo_checkpoint)}
