"""The first run without a model, in a small terminal: every choice reachable, nothing saved
that does not work, a bad folder refused before it is saved, Settings one button away."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Input

from llama_chat.settings import Settings, load_settings, save_settings
from llama_chat.tui.screens.settings import SettingsScreen
from llama_chat.tui.screens.welcome import WelcomeScreen
from tests.tui_pilot import DrivenApp, on_screen, wait_for

pytestmark = pytest.mark.anyio

SMALL = (80, 24)
NETWORK_ERROR = (
    "Could not reach the Hugging Face Hub (https://huggingface.co) to download "
    "mlx-community/Llama-3.2-3B-Instruct-8bit: HTTPSConnectionPool(host='huggingface.co', "
    "port=443): Max retries exceeded with url: /api/models/mlx-community/Llama-3.2-3B-Instruct-"
    '8bit/revision/main?blobs=True (Caused by NameResolutionError("<urllib3.connection.'
    "HTTPSConnection object at 0x10a2b3c40>: Failed to resolve 'huggingface.co'\")). Check the "
    "connection, or turn on offline mode and point model_dir at a local copy."
)


@pytest.fixture(autouse=True)
def no_hub(tmp_path, monkeypatch) -> None:
    """An empty Hugging Face cache, and a hub address where nothing answers."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def shown(pilot: Pilot, widget: Widget) -> bool:
    """The widget is really on screen: what is drawn at its centre is the widget itself."""
    screen_region = pilot.app.screen.region
    region = widget.region
    if not region or not screen_region.contains_region(region):
        return False
    under, _ = pilot.app.screen.get_widget_at(*region.center)
    return under is widget or widget in under.ancestors


def error_text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def broken_folder(tmp_path: Path, demo_checkpoint: Path) -> Path:
    """The issue's folder: a real config.json and tokenizer, but empty weights."""
    folder = tmp_path / "broken-model"
    folder.mkdir()
    shutil.copy(demo_checkpoint / "config.json", folder / "config.json")
    shutil.copy(demo_checkpoint / "tokenizer.json", folder / "tokenizer.json")
    (folder / "model.safetensors").write_bytes(b"")
    return folder


async def test_every_welcome_button_can_be_reached_with_tab_at_80x24(paths):
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        screen = app.screen
        reached = set()
        for _ in range(12):
            await pilot.press("tab")
            await pilot.pause()
            focused = screen.focused
            if isinstance(focused, Button):
                assert shown(pilot, focused), f"{focused.id} is focused but off screen"
                reached.add(focused.id)
        assert {"download", "use-folder", "demo", "settings", "quit"} <= reached


async def test_a_long_network_error_stays_inside_the_welcome_dialog(paths):
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=(130, 40)) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        app.screen.query_one("#welcome-reason").update(NETWORK_ERROR)
        await pilot.pause()
        dialog = app.screen.query_one("#welcome")
        reason = app.screen.query_one("#welcome-reason")
        assert app.screen.region.contains_region(dialog.region)
        assert dialog.region.contains_region(reason.region)
        assert reason.region.height >= 3, "the error wraps instead of running off"


async def test_use_folder_refuses_a_folder_with_empty_weights(paths, tmp_path, demo_checkpoint):
    folder = broken_folder(tmp_path, demo_checkpoint)
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        app.screen.query_one("#folder", Input).value = str(folder)
        app.screen.query_one("#use-folder", Button).press()
        await wait_for(
            pilot, lambda: "is empty" in error_text(app.screen, "#folder-error"), "the error"
        )
        assert isinstance(app.screen, WelcomeScreen)
    assert not paths.settings_file.exists(), "a folder that cannot load is never saved"


async def test_use_folder_refuses_a_folder_without_a_tokenizer(paths, tmp_path, demo_checkpoint):
    folder = broken_folder(tmp_path, demo_checkpoint)
    (folder / "tokenizer.json").unlink()
    shutil.copy(demo_checkpoint / "model.safetensors", folder / "model.safetensors")
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        app.screen.query_one("#folder", Input).value = str(folder)
        app.screen.query_one("#use-folder", Button).press()
        await wait_for(
            pilot, lambda: "tokenizer" in error_text(app.screen, "#folder-error"), "the error"
        )


async def test_download_offers_the_saved_quant_and_saves_nothing_when_it_fails(
    paths, tmp_path, demo_checkpoint
):
    # The case: a saved 8bit setting with a broken folder, and no network.
    folder = broken_folder(tmp_path, demo_checkpoint)
    saved = Settings(quant="8bit", model_dir={"8bit": str(folder)})
    save_settings(saved, paths.settings_file)
    before = paths.settings_file.read_text()
    app = DrivenApp(saved, paths)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        label = str(app.screen.query_one("#download", Button).label)
        assert "8bit" in label and "4bit" not in label
        app.screen.query_one("#download", Button).press()
        # It tries the hub (not the folder again), fails, and offers the choices again.
        await wait_for(pilot, lambda: app.model_state == "failed", "the download to fail")
        await on_screen(pilot, WelcomeScreen, "the welcome again")
        reason = error_text(app.screen, "#welcome-reason")
        assert "Hugging Face Hub" in reason and str(folder) not in reason
    assert paths.settings_file.read_text() == before
    assert json.loads(before)["quant"] == "8bit"


async def test_settings_open_from_the_welcome_and_cancel_returns_to_it(paths):
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        app.screen.query_one("#settings", Button).press()
        await on_screen(pilot, SettingsScreen, "settings")
        assert str(paths.settings_file) in error_text(app.screen, "#settings-paths")
        await pilot.press("escape")
        await on_screen(pilot, WelcomeScreen, "the welcome again")


async def test_a_folder_chosen_in_settings_from_the_welcome_loads(paths, demo_checkpoint):
    app = DrivenApp(Settings(), paths, offline=True)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        app.screen.query_one("#settings", Button).press()
        await on_screen(pilot, SettingsScreen, "settings")
        app.screen.query_one("#model_dir", Input).value = str(demo_checkpoint)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.model_state == "ready", "the model to load")
    saved, _ = load_settings(paths.settings_file)
    assert saved.model_dir == {"4bit": str(demo_checkpoint)}
