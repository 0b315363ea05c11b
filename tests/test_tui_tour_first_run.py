"""The first run at 80×24 as a new user meets it: every choice on screen without scrolling, the
ones that work offline first, and every button labelled."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Button

from llama_chat.settings import Settings
from llama_chat.tui.screens.welcome import WelcomeScreen
from tests.tui_pilot import DrivenApp, on_screen

pytestmark = pytest.mark.anyio

SMALL = (80, 24)


@pytest.fixture(autouse=True)
def no_hub(tmp_path, monkeypatch) -> None:
    """An empty Hugging Face cache, and a hub address where nothing answers."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def buttons_top_down(pilot: Pilot) -> list[Button]:
    return sorted(pilot.app.screen.query(Button), key=lambda b: (b.region.y, b.region.x))


def visible_without_scrolling(pilot: Pilot, button: Button) -> bool:
    """Drawn whole inside the screen, and what is drawn at its centre is the button itself."""
    region = button.region
    if not region or not pilot.app.screen.region.contains_region(region):
        return False
    under, _ = pilot.app.screen.get_widget_at(*region.center)
    return under is button or button in under.ancestors


@pytest.mark.parametrize("offline", [True, False])
async def test_every_welcome_button_is_on_screen_at_80x24_without_scrolling(paths, offline):
    app = DrivenApp(Settings(offline=offline), paths, offline=offline)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        dialog = app.screen.query_one("#welcome")
        assert dialog.max_scroll_y == 0, "the dialog needs scrolling at 80×24"
        buttons = buttons_top_down(pilot)
        assert {b.id for b in buttons} >= {"download", "use-folder", "demo", "settings", "quit"}
        for button in buttons:
            if not button.disabled:
                assert visible_without_scrolling(pilot, button), f"{button.id} is off screen"


async def test_offline_the_demo_and_the_folder_come_before_the_download(paths):
    app = DrivenApp(Settings(offline=True), paths, offline=True)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        order = [b.id for b in buttons_top_down(pilot)]
        assert order.index("demo") < order.index("use-folder") < order.index("download")
        download = app.screen.query_one("#download", Button)
        assert download.variant != "primary"
        assert "online" in str(download.label), "offline, the download says it goes online"
        assert app.screen.query_one("#demo", Button).variant == "primary"


async def test_online_the_download_comes_first(paths):
    app = DrivenApp(Settings(), paths)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        assert buttons_top_down(pilot)[0].id == "download"


async def test_every_welcome_button_shows_its_label_at_80x24(paths):
    app = DrivenApp(Settings(offline=True), paths, offline=True)
    async with app.run_test(size=SMALL) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        for button in app.screen.query(Button):
            assert button.content_region.height >= 1, f"{button.id} has no room for its label"
