"""The terminal app driven like a person would: keys in, screen and saved chats checked.

Every test runs the real app (App.run_test + Pilot) on the real demo checkpoint (random
weights, Meta's tokenizer) through the real controller and engine thread, with
LLAMA_CHAT_HOME in a temporary folder. The tool-call test uses a scripted checkpoint
(tests/scripted.py) whose greedy output really is a calculator call, so the approval dialog is
reached through the real generation path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, ListView, Select

from llama_chat.events import TextDelta
from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore
from llama_chat.settings import Settings, load_settings
from llama_chat.tui.app import RESTART_WITH_DEMO, LlamaChatApp, create_app
from llama_chat.tui.commands import CHAT_COMMANDS
from llama_chat.tui.screens.dialogs import ConfirmDialog, ExportDialog, RenameDialog
from llama_chat.tui.screens.help import HelpScreen
from llama_chat.tui.screens.settings import SettingsScreen
from llama_chat.tui.screens.tool_approval import ToolApprovalScreen
from llama_chat.tui.screens.welcome import WelcomeScreen
from llama_chat.tui.widgets.message import (
    AssistantMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
)

pytestmark = pytest.mark.anyio
SIZE = (110, 40)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"




@pytest.fixture
def export_dir(tmp_path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def make_app(paths: AppPaths, export_dir: Path | None = None, **settings: object) -> LlamaChatApp:
    values = {"max_tokens": 8, "temperature": 0.0, **settings}
    return create_app(Settings(**values), paths, demo=True, export_dir=export_dir)


async def wait_for(
    pilot: Pilot, condition: Callable[[], object], what: str, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.02)


async def on_screen(pilot: Pilot, kind: type, what: str) -> None:
    """Wait until a screen of ``kind`` is on top and has drawn its widgets."""
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen.children, what
    )
    await pilot.pause()


async def model_ready(pilot: Pilot) -> None:
    app: LlamaChatApp = pilot.app
    await wait_for(pilot, lambda: app.chat.model_state == "ready", "the model to load")


async def send(pilot: Pilot, text: str) -> None:
    """Type ``text`` into the message box, press Enter, wait for the answer to finish."""
    app: LlamaChatApp = pilot.app
    app.chat.prompt.focus()
    await keys_then_turn(pilot, *text, "enter")


async def keys_then_turn(pilot: Pilot, *keys: str) -> None:
    """Press ``keys`` (which start a turn) and wait until that turn has ended."""
    app: LlamaChatApp = pilot.app
    before = app.chat.turns_done
    await pilot.press(*keys)
    await wait_for(pilot, lambda: app.chat.turns_done > before, "the end of the turn")


def record_events(app: LlamaChatApp) -> list[object]:
    """Every engine event, in the order the UI handled it."""
    seen: list[object] = []
    handle = app.chat.handle_event

    async def recording(event: object) -> None:
        await handle(event)
        seen.append(event)

    app.chat.handle_event = recording
    return seen


def widgets(app: LlamaChatApp, kind: type) -> list:
    return list(app.chat.messages.query_children(kind))


def seed_chat(paths: AppPaths, title: str, exchange: list[tuple[str, str]]) -> int:
    """A saved chat written straight into the store, as an earlier run would have left it."""
    store = SessionStore.open(paths.sessions_db)
    info = store.create_session(
        title=title, system_prompt="Be brief.", settings={}, model="demo", quant="4bit"
    )
    parent = None
    for role, content in exchange:
        parent = store.add_message(info.id, role, content, parent_id=parent).id
    store.close()
    return info.id


# -- startup ------------------------------------------------------------------------------


async def test_first_screen_paints_before_the_model_has_loaded(paths):
    app = make_app(paths)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        painted = time.perf_counter() - started
        assert app.screen is app.chat and app.chat.prompt.has_focus
        assert painted < 1.0, f"first screen took {painted:.2f}s"
        await pilot.press(*"typing while it loads")  # the UI is not blocked by the load
        assert app.chat.prompt.text == "typing while it loads"
        await model_ready(pilot)
        assert "DEMO" in app.chat.status.model_text
        assert "meaningless" in app.chat.status.model_text


async def test_settings_warnings_and_notices_become_notifications(paths, monkeypatch):
    app = create_app(
        Settings(),
        paths,
        demo=True,
        settings_warnings=["settings.json: 'temperature' = 9 is not valid"],
    )
    shown: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *args, severity="information", **kwargs):
        shown.append((message, severity))
        return original(message, *args, severity=severity, **kwargs)

    monkeypatch.setattr(app, "notify", notify)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        from llama_chat.events import Notice

        app.controller.on_event(Notice("the database was recovered", "warning"))
        await wait_for(pilot, lambda: any("recovered" in m for m, _ in shown), "the notice")
    assert ("settings.json: 'temperature' = 9 is not valid", "warning") in shown
    assert ("the database was recovered", "warning") in shown


async def test_a_recovered_database_is_reported_at_startup(paths, monkeypatch):
    paths.sessions_db.write_bytes(b"this is not a database" * 100)
    app = make_app(paths)
    shown: list[str] = []
    original = app.notify

    def notify(message, *args, **kwargs):
        shown.append(message)
        return original(message, *args, **kwargs)

    monkeypatch.setattr(app, "notify", notify)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
    assert any("could not be read" in m and "moved" in m for m in shown)


# -- the chat -----------------------------------------------------------------------------


async def test_an_answer_streams_in_and_is_saved(paths):
    app = make_app(paths, max_tokens=24)
    async with app.run_test(size=SIZE) as pilot:
        events = record_events(app)
        live_states: list[str] = []
        on_delta = app.chat._on_TextDelta

        async def watch_delta(event):
            await on_delta(event)
            live_states.append(app.chat.answer.status)

        app.chat._on_TextDelta = watch_delta
        await model_ready(pilot)
        await send(pilot, "Hello there")

        deltas = [e.text for e in events if isinstance(e, TextDelta)]
        assert len(deltas) >= 2, "the answer should arrive in pieces"
        assert set(live_states) == {"streaming-live"}
        (answer,) = widgets(app, AssistantMessage)
        assert answer.text == "".join(deltas)
        assert answer.status in ("complete", "length")
        (user,) = widgets(app, UserMessage)
        assert user.text == "Hello there"

        saved = app.controller.store.active_path(app.chat.session_id)
        assert [(m.role, m.content, m.status) for m in saved] == [
            ("user", "Hello there", "complete"),
            ("assistant", answer.text, "complete"),
        ]
        assert app.chat.status.context_text.startswith("ctx ")
        assert "tok/s" in app.chat.status.speed_text


async def test_user_text_is_shown_literally_and_multi_line_input_works(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press(*"[b]not bold[/b]", "ctrl+j", *"*not italic*", "shift+enter", "x")
        assert app.chat.prompt.text == "[b]not bold[/b]\n*not italic*\nx"
        await keys_then_turn(pilot, "enter")
        (user,) = widgets(app, UserMessage)
        assert user.text == "[b]not bold[/b]\n*not italic*\nx"
        rendered = "\n".join(
            "".join(segment.text for segment in user.render_line(y))
            for y in range(user.size.height)
        )
        assert "[b]not bold[/b]" in rendered and "*not italic*" in rendered
        # Up in the empty box brings the last message back.
        await pilot.press("up")
        assert app.chat.prompt.text == "[b]not bold[/b]\n*not italic*\nx"


async def test_escape_stops_the_answer_within_a_token_and_keeps_it_marked_stopped(paths):
    app = make_app(paths, max_tokens=5000, context_limit=16384)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        engine_events: list[object] = []
        forward = app.controller.on_event

        def on_engine_thread(event):
            engine_events.append(event)
            forward(event)

        app.controller.on_event = on_engine_thread
        stop = app.controller.stop
        deltas_at_stop: list[int] = []

        def stop_and_count():
            deltas_at_stop.append(sum(isinstance(e, TextDelta) for e in engine_events))
            stop()

        app.controller.stop = stop_and_count
        app.chat.prompt.focus()
        before = app.chat.turns_done
        await pilot.press(*"Keep talking", "enter")
        await wait_for(
            pilot,
            lambda: app.chat.answer is not None and len(app.chat.answer.text) > 20,
            "some streamed text",
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.chat.turns_done > before, "the stop")

        (answer,) = widgets(app, AssistantMessage)
        assert answer.status == "stopped" and "stopped" in answer.border_subtitle
        after_stop = sum(isinstance(e, TextDelta) for e in engine_events) - deltas_at_stop[0]
        assert after_stop <= 2, f"{after_stop} tokens arrived after Esc"
        saved = app.controller.store.active_path(app.chat.session_id)[-1]
        assert saved.status == "stopped"
        assert saved.content == answer.text and answer.text


async def test_regenerate_writes_a_new_answer_and_keeps_the_old_one_as_a_branch(paths):
    app = make_app(paths, temperature=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Pick a word")
        await keys_then_turn(pilot, "ctrl+r")
        assert len(widgets(app, UserMessage)) == 1
        (answer,) = widgets(app, AssistantMessage)
        store = app.controller.store
        path = store.active_path(app.chat.session_id)
        assert [m.role for m in path] == ["user", "assistant"]
        assert path[-1].content == answer.text
        assert len(store.siblings(path[-1].id)) == 2


async def test_edit_last_message_replaces_it_and_answers_again(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "First try")
        await pilot.press("ctrl+l")
        assert app.chat.editing and app.chat.prompt.text == "First try"
        app.chat.prompt.clear()
        await send(pilot, "Second try")
        assert not app.chat.editing
        assert [u.text for u in widgets(app, UserMessage)] == ["Second try"]
        assert len(widgets(app, AssistantMessage)) == 1
        path = app.controller.store.active_path(app.chat.session_id)
        assert [(m.role, m.content) for m in path][0] == ("user", "Second try")
        assert len(path) == 2


async def test_copy_last_answer_puts_it_on_the_clipboard(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Say something")
        await pilot.press("ctrl+o")
        assert app.clipboard == widgets(app, AssistantMessage)[-1].text != ""


# -- settings -----------------------------------------------------------------------------


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
        await wait_for(
            pilot,
            lambda: app.chat.loaded_quant == "8bit" and app.chat.model_state == "ready",
            "the 8-bit model",
        )
        assert app.screen is app.chat
        assert "8bit" in app.chat.status.model_text
        assert [u.text for u in widgets(app, UserMessage)] == ["Remember me"]
        saved, _ = load_settings(paths.settings_file)
        assert saved.quant == "8bit"
        await send(pilot, "Still there?")
        path = app.controller.store.active_path(app.chat.session_id)
        assert [m.content for m in path if m.role == "user"] == ["Remember me", "Still there?"]


async def test_settings_errors_are_shown_inline_and_block_saving(paths, monkeypatch):
    import llama_chat.tui.screens.settings as settings_screen

    monkeypatch.setattr(settings_screen, "machine_memory_bytes", lambda: 16 * 10**9)
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
        assert "[0.0, 2.0]" in error("temperature")
        screen.query_one("#temperature", Input).value = "0.7"
        await pilot.pause()
        assert error("temperature") == ""

        memory = screen.query_one("#memory-fit")
        assert "needs about" in str(memory.render())
        monkeypatch.setattr(settings_screen, "machine_memory_bytes", lambda: 10**6)
        screen.query_one("#context_limit", Input).value = "131072"
        await pilot.pause()
        assert memory.has_class("-problem")
        assert "this machine has" in str(memory.render())

        await pilot.press("ctrl+s")
        assert app.screen is screen, "a setting that does not fit must not be saved"
        monkeypatch.setattr(settings_screen, "machine_memory_bytes", lambda: 16 * 10**9)
        screen.query_one("#context_limit", Input).value = "4096"
        screen.query_one("#seed", Input).value = "7"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat, "the settings to close")
    saved, warnings = load_settings(paths.settings_file)
    assert not warnings
    assert (saved.temperature, saved.context_limit, saved.seed) == (0.7, 4096, 7)


# -- tools --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calculator_checkpoint(tmp_path_factory) -> Path:
    import mlx_model
    from tests.conftest import meta_tokenizer_model
    from tests.scripted import chain_for, make_scripted_checkpoint

    tokenizer = mlx_model.Tokenizer.from_tiktoken_file(meta_tokenizer_model())
    call = tokenizer.encode('[calculator(expression="6*7")]')
    header_end = tokenizer.encode("\n\n")[0]  # the last token of every assistant header
    return make_scripted_checkpoint(
        tmp_path_factory.mktemp("calculator"),
        meta_tokenizer_model(),
        chain_for([*call, tokenizer.eot_id], header_end),
    )


async def test_tool_calls_wait_for_the_users_answer_in_a_dialog(paths, calculator_checkpoint):
    # This model calls the calculator every round (the controller stops after a few rounds).
    app = create_app(
        Settings(max_tokens=20, temperature=0.0), paths, model_dir=calculator_checkpoint
    )
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        before = app.chat.turns_done
        await pilot.press(*"What is six times seven?", "enter")
        answers = ["deny", "once", "always"]
        for answer in answers:
            await on_screen(pilot, ToolApprovalScreen, "the approval dialog")
            assert app.screen.call.name == "calculator"
            assert app.screen.call.arguments == {"expression": "6*7"}
            await pilot.click(f"#{answer}")
        await wait_for(pilot, lambda: app.chat.turns_done > before, "the end of the turn")
        assert app.screen is app.chat, "after 'always' the tool runs without asking"

        calls = widgets(app, ToolCallMessage)
        results = widgets(app, ToolResultMessage)
        assert len(calls) == len(results) >= 4
        assert all(c.call_name == "calculator" for c in calls)
        assert results[0].has_class("-declined") and "42" not in results[0].full_text
        assert all("42" in r.full_text for r in results[1:])
        saved = app.controller.store.active_path(app.chat.session_id)
        assert [m.role for m in saved[:3]] == ["user", "assistant", "ipython"]
        assert saved[1].tool_calls[0]["function"]["name"] == "calculator"


# -- saved chats --------------------------------------------------------------------------


async def test_sidebar_lists_chats_newest_first_and_opens_one(paths):
    older = seed_chat(paths, "Trip to Lisbon", [("user", "Plan a trip"), ("assistant", "Day 1")])
    newer = seed_chat(paths, "Sourdough", [("user", "Bread tips"), ("assistant", "Use **salt**")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        items = app.chat.sidebar.items
        assert [i.session.id for i in items] == [newer, older]
        app.chat.sidebar.query_one(ListView).focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.chat.session_id == older, "the chat to open")
        await wait_for(pilot, lambda: len(widgets(app, AssistantMessage)) == 1, "messages")
        assert [u.text for u in widgets(app, UserMessage)] == ["Plan a trip"]
        assert widgets(app, AssistantMessage)[0].text == "Day 1"
        # Answering continues that chat.
        await send(pilot, "And day 2?")
        assert len(app.controller.store.active_path(older)) == 4


async def test_search_rename_export_and_delete_from_the_sidebar(paths, export_dir):
    lisbon = seed_chat(paths, "Trip", [("user", "Plan a trip to Lisbon"), ("assistant", "Ok")])
    bread = seed_chat(paths, "Bread", [("user", "Sourdough starter"), ("assistant", "Flour")])
    app = make_app(paths, export_dir)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        sidebar = app.chat.sidebar
        store = app.controller.store

        sidebar.query_one("#session-search", Input).focus()
        await pilot.press(*"lisb")
        await wait_for(
            pilot, lambda: [i.session.id for i in sidebar.items] == [lisbon], "search results"
        )
        assert "Lisbon" in str(sidebar.items[0].query("Label").last().render())

        await pilot.press("enter")  # from the search box to the results
        await pilot.press("r")
        await on_screen(pilot, RenameDialog, "rename dialog")
        app.screen.query_one(Input).value = "Lisbon in May"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: store.get_session(lisbon).title == "Lisbon in May", "the rename"
        )

        await pilot.press("e")
        await on_screen(pilot, ExportDialog, "export dialog")
        await pilot.click("#markdown")
        await wait_for(pilot, lambda: list(export_dir.glob("*.md")), "the Markdown file")
        (markdown,) = export_dir.glob("*.md")
        assert markdown.read_text() == store.export_markdown(lisbon)

        app.chat.session_id = lisbon  # as if it were open: the palette command exports it
        await app.chat.run_action("export_session('json')")
        (exported,) = export_dir.glob("*.json")
        assert json.loads(exported.read_text()) == store.export_json(lisbon)
        app.chat.session_id = None

        sidebar.query_one(ListView).focus()
        await pilot.press("d")
        await on_screen(pilot, ConfirmDialog, "confirm dialog")
        await pilot.click("#confirm")
        await wait_for(
            pilot, lambda: [s.id for s in store.list_sessions()] == [bread], "the delete"
        )
        sidebar.query_one("#session-search", Input).value = ""
        await wait_for(
            pilot, lambda: [i.session.id for i in sidebar.items] == [bread], "the list to refresh"
        )


async def test_a_restarted_app_finds_the_chat_with_its_messages(paths):
    first = make_app(paths)
    async with first.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Persist me")
        answer = widgets(first, AssistantMessage)[0].text
        session_id = first.chat.session_id
        await pilot.press("ctrl+q")
    assert first.return_code == 0
    assert list(paths.kv_cache_dir.glob("session-*")), "quitting saves the chat's KV cache"

    second = make_app(paths)
    async with second.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        items = second.chat.sidebar.items
        assert [i.session.id for i in items] == [session_id]
        assert items[0].session.title == "Persist me"
        second.chat.sidebar.query_one(ListView).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: widgets(second, AssistantMessage), "the restored chat")
        assert [u.text for u in widgets(second, UserMessage)] == ["Persist me"]
        assert widgets(second, AssistantMessage)[0].text == answer
        # The saved KV cache came back: the context already holds the chat.
        assert not second.chat.status.context_text.startswith("ctx 0/")


# -- palette, help, welcome ---------------------------------------------------------------


async def test_command_palette_has_every_action_and_opens_chats_by_name(paths):
    session_id = seed_chat(paths, "Sourdough", [("user", "Bread"), ("assistant", "Flour")])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.chat)}
        assert {title for title, _, _ in CHAT_COMMANDS} <= titles

        await pilot.press("ctrl+p")
        await pilot.press(*"sourdough")
        await wait_for(pilot, lambda: "Open chat: Sourdough" in palette_text(app), "the hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.session_id == session_id, "the chat to open")


def palette_text(app: LlamaChatApp) -> str:
    from textual.widgets import OptionList

    lists = app.screen.query(OptionList)
    if not lists:
        return ""
    options = lists.first(OptionList)
    return "\n".join(
        str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
    )


async def test_help_lists_the_keys(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await on_screen(pilot, HelpScreen, "help")
        from textual.widgets import DataTable

        table = app.screen.query_one(DataTable)
        rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        keys = dict(rows)
        assert "Stop the answer being written" in keys["esc"]
        assert any("Quit" in action for action in keys.values())
        assert any("^j" in k for k in keys), "Ctrl+J (new line) is listed"
        await pilot.press("escape")
        assert app.screen is app.chat


async def test_welcome_screen_offers_download_folder_or_demo(
    paths, tmp_path, monkeypatch, demo_checkpoint
):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    app = create_app(Settings(), paths, offline=True)
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
        assert app.controller.model is None  # nothing was loaded or downloaded unasked
        await pilot.click("#demo")
        # The choice is acted on by a worker: wait for it rather than for a fixed time.
        await wait_for(pilot, lambda: app.return_value is not None, "the app to exit")
    assert app.return_value == RESTART_WITH_DEMO


async def test_welcome_screen_loads_a_local_model_folder(
    paths, tmp_path, monkeypatch, demo_checkpoint
):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    app = create_app(Settings(), paths, offline=True)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, WelcomeScreen, "the welcome")
        app.screen.query_one("#folder", Input).value = str(demo_checkpoint)
        await pilot.click("#use-folder")
        await model_ready(pilot)
        assert "Llama 3.2 3B Instruct · 4bit" in app.chat.status.model_text
    saved, _ = load_settings(paths.settings_file)
    assert saved.model_dir == {"4bit": str(demo_checkpoint)}


# -- more of the chat screen --------------------------------------------------------------


async def test_new_chat_and_the_sidebar_toggle(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "First chat")
        first = app.chat.session_id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.chat.session_id is None, "a new chat")
        await wait_for(pilot, lambda: not app.chat.messages.children, "an empty list")
        await send(pilot, "Second chat")
        assert app.chat.session_id not in (None, first)
        assert [i.session.title for i in app.chat.sidebar.items] == ["Second chat", "First chat"]

        await pilot.press("ctrl+b")
        assert not app.chat.sidebar.display and app.chat.prompt.has_focus
        await pilot.press("ctrl+b")
        assert app.chat.sidebar.display
        assert app.chat.sidebar.query_one("#session-search").has_focus


async def test_a_failed_answer_is_marked_with_the_error(paths, monkeypatch):
    from llama_chat.chat.conversation import Conversation

    def broken(self, emit, **kwargs):
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(Conversation, "respond", broken)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hello?")
        (answer,) = widgets(app, AssistantMessage)
        assert answer.status == "error" and answer.has_class("-error")
        assert "RuntimeError: the GPU caught fire" in str(
            answer.query_one(".message-detail").render()
        )
        assert app.controller.store.active_path(app.chat.session_id)[-1].status == "error"
        assert not app.chat.busy  # ready for the next message


async def test_download_progress_shows_in_the_status_bar(paths):
    from textual.widgets import ProgressBar

    from llama_chat.events import DownloadProgressEvent, ModelLoading

    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
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
        assert app.chat.model_state == "loading"


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
        session = app.chat.session_id
        await wait_for(
            pilot,
            lambda: app.controller.conversation.system_prompt == "Answer like a pirate.",
            "the chat to use the new prompt",
        )
        assert app.controller.store.get_session(session).system_prompt == "Answer like a pirate."
        assert app.theme == theme
        await send(pilot, "Still here?")  # the reopened chat goes on
        assert len(app.controller.store.active_path(session)) == 4
    saved, _ = load_settings(paths.settings_file)
    assert saved.allowed_folders == [str(tmp_path)] and saved.theme == theme
