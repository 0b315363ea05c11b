"""The settings form: inline errors, the memory check, and what saving changes."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from llama_chat.events import Job
from llama_chat.settings import load_settings
from llama_chat.tui.screens.settings import SettingsScreen
from llama_chat.tui.widgets.message import UserMessage
from tests.tui_pilot import SIZE, make_app, model_ready, on_screen, send, wait_for, widgets

pytestmark = pytest.mark.anyio


async def open_settings(pilot: Pilot) -> SettingsScreen:
    await pilot.press("ctrl+s")
    await on_screen(pilot, SettingsScreen, "settings")
    return pilot.app.screen


async def test_switching_quant_in_settings_reloads_the_model_and_keeps_the_chat(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Remember me")
        screen = await open_settings(pilot)
        screen.query_one("#quant", Select).value = "8bit"
        await pilot.press("ctrl+s")
        # The demo is one 4-bit checkpoint whatever the setting, and the status bar names what
        # was loaded: the reload is the settings job (which loads the model) having ended.
        await wait_for(
            pilot,
            lambda: (
                any(job.job == Job.SETTINGS and job.ok for job in app.finished_jobs)
                and app.model_state == "ready"
            ),
            "the model loaded again for 8bit",
        )
        assert app.screen is app.chat
        assert [u.text for u in widgets(app, UserMessage)] == ["Remember me"]
        saved, _ = load_settings(paths.settings_file)
        assert saved.quant == "8bit"
        await send(pilot, "Still there?")
        path = app.controller.sessions.active_path(app.session_id)
        assert [m.content for m in path if m.role == "user"] == ["Remember me", "Still there?"]


async def test_settings_errors_are_shown_inline_and_block_saving(paths, monkeypatch):
    import llama_chat.models.store as model_store

    monkeypatch.setattr(model_store, "machine_memory_bytes", lambda: 16 * 10**9)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        screen = await open_settings(pilot)

        def error(key: str) -> str:
            return str(screen.query_one(f"#{key}-error").render())

        screen.query_one("#temperature", Input).value = "hot"
        await pilot.pause()
        assert "not a number" in error("temperature")
        screen.query_one("#temperature", Input).value = "3"
        await pilot.pause()
        assert "[0, 2]" in error("temperature")
        screen.query_one("#temperature", Input).value = "0.7"
        await pilot.pause()
        assert error("temperature") == ""

        memory = screen.query_one("#memory-fit")
        assert "needs about" in str(memory.render())
        monkeypatch.setattr(model_store, "machine_memory_bytes", lambda: 10**6)
        screen.query_one("#context_limit", Input).value = "131072"
        await pilot.pause()
        assert memory.has_class("-problem")
        assert "this machine has" in str(memory.render())

        await pilot.press("ctrl+s")
        assert app.screen is screen, "a setting that does not fit must not be saved"
        monkeypatch.setattr(model_store, "machine_memory_bytes", lambda: 16 * 10**9)
        screen.query_one("#context_limit", Input).value = "4096"
        screen.query_one("#seed", Input).value = "7"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat, "the settings to close")
    saved, warnings = load_settings(paths.settings_file)
    assert not warnings
    assert (saved.temperature, saved.context_limit, saved.seed) == (0.7, 4096, 7)


async def test_session_system_prompt_theme_and_folders_from_settings(paths, tmp_path):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hi")
        screen = await open_settings(pilot)
        screen.query_one("#session_system_prompt").load_text("Answer like a pirate.")
        screen.query_one("#allowed_folders").load_text(f"{tmp_path}\n")
        theme = next(t for t in app.available_themes if t != app.theme)
        screen.query_one("#theme", Select).value = theme
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat, "the settings to close")
        session = app.session_id
        # The chat is re-read with the new prompt: the job ends with the chat reopened.
        await wait_for(
            pilot,
            lambda: any(job.job == Job.SETTINGS for job in app.finished_jobs),
            "the settings job",
        )
        assert app.controller.sessions.get_session(session).system_prompt == (
            "Answer like a pirate."
        )
        assert app.theme == theme
        await send(pilot, "Still here?")  # the reopened chat goes on
        assert len(app.controller.sessions.active_path(session)) == 4
    saved, _ = load_settings(paths.settings_file)
    assert saved.allowed_folders == [str(tmp_path)] and saved.theme == theme


def test_sampling_words_come_from_the_engines_limits():
    # One table says what each sampling field accepts: the settings form, the presets tab and
    # the command line's help all show its words, so they cannot drift apart.
    from llama_chat.cli import build_parser
    from llama_chat.tui.screens.settings import NUMBER_FIELDS
    from mlx_model import SAMPLING_LIMITS

    hints = {key: hint for key, _, hint, _ in NUMBER_FIELDS if key in SAMPLING_LIMITS}
    assert set(hints) == {"temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed"}
    assert all(hint == SAMPLING_LIMITS[key].described for key, hint in hints.items())
    assert SAMPLING_LIMITS["temperature"].described == (
        "randomness; 0 always picks the likeliest token (a number in [0, 2])"
    )
    help_text = " ".join(build_parser().format_help().split())
    for key in ("temperature", "top_p", "seed"):
        assert SAMPLING_LIMITS[key].described in help_text


def test_the_kv_hint_says_8_bit_decodes_slower_where_it_does(monkeypatch):
    from llama_chat.tui.screens import settings as settings_screen

    monkeypatch.setattr(settings_screen, "packed_kv_decodes_slower", lambda: True)
    on_cpu = settings_screen.kv_bits_hint()
    monkeypatch.setattr(settings_screen, "packed_kv_decodes_slower", lambda: False)
    elsewhere = settings_screen.kv_bits_hint()

    assert on_cpu == "8-bit halves the cache's memory but decodes slower on CPU"
    assert len(on_cpu) <= 80 and "slower" not in elsewhere and "memory" in elsewhere
