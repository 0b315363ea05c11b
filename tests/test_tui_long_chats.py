"""Long chats, drafts and refused messages in the real app: nothing typed is lost."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llama_chat.events import Job
from llama_chat.settings import load_settings
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.screens.dialogs import ConfirmDialog
from llama_chat.tui.widgets.message import AssistantMessage, UserMessage
from llama_chat.tui.widgets.message_list import FIRST_SCREEN_MESSAGES, NewerNote, OlderNote
from tests.tui_pilot import (
    SIZE,
    make_app,
    model_ready,
    on_screen,
    open_and_settle,
    seed_chat,
    send,
    wait_for,
    widgets,
)

pytestmark = pytest.mark.anyio


def exchange(turns: int) -> list[tuple[str, str]]:
    return [m for n in range(turns) for m in (("user", f"Q{n}"), ("assistant", f"A{n}"))]


async def test_a_long_chat_opens_on_its_newest_messages_and_older_ones_come_on_scroll_up(paths):
    chat = seed_chat(paths, "Long", exchange(150))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:  # the last chat reopens on start
        await wait_for(pilot, lambda: app.session_id == chat, "the last chat to reopen")
        await wait_for(pilot, lambda: widgets(app, AssistantMessage), "the newest messages")
        messages = app.chat.messages
        await pilot.pause()
        await wait_for(pilot, lambda: not messages.loading_older, "the screen to fill")
        # About a screenful, not all 300 (short ones: pages are added until the list scrolls).
        mounted = len(messages.children) - 1  # the "earlier messages" note
        assert FIRST_SCREEN_MESSAGES <= mounted < 100
        assert widgets(app, AssistantMessage)[-1].text == "A149"
        assert messages.query_children(OlderNote).first().count == 300 - mounted
        for _ in range(40):  # scroll to the top until the first question is there
            if widgets(app, UserMessage)[0].text == "Q0":
                break
            await wait_for(pilot, lambda: not messages.loading_older, "a page to settle")
            shown = len(messages.children)
            messages.scroll_home(animate=False, immediate=True)
            await wait_for(
                pilot, lambda shown=shown: len(messages.children) > shown, "an older page"
            )
        await wait_for(pilot, lambda: not messages.loading_older, "the last page to settle")
        assert [u.text for u in widgets(app, UserMessage)][:2] == ["Q0", "Q1"]
        assert not messages.query_children(OlderNote)
        assert len(widgets(app, AssistantMessage)) == 150


async def test_a_message_too_long_for_the_context_is_given_back_and_not_kept(paths):
    chat = seed_chat(paths, "Short", exchange(5))
    app = make_app(paths, context_limit=2048, max_tokens=8)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await wait_for(pilot, lambda: app.session_id == chat, "the chat to reopen")
        too_long = "word " * 3000
        app.chat.prompt.set_text(too_long)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.prompt.text == too_long, "the text back in the box")
        assert any("not sent" in text for text, _ in app.notices)
        await on_screen(pilot, ConfirmDialog, "the offer to attach it instead")
        await pilot.press("escape")  # declined: the text stays in the box
        assert app.chat.prompt.text == too_long
        assert [u.text for u in widgets(app, UserMessage)][-1] == "Q4"
        path = app.controller.sessions.active_path(chat)
        assert len(path) == 10 and path[-1].content == "A4"
        # The next short message sees the whole chat: nothing was pushed out of view.
        app.chat.prompt.clear()
        await send(pilot, "ok")
        assert not any("no longer seen" in text for text, _ in app.notices)
        assert len(app.controller.sessions.active_path(chat)) == 12


async def test_drafts_survive_quitting_per_chat_and_in_a_new_chat(paths):
    chat = seed_chat(paths, "Saved", exchange(1))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id == chat, "the last chat to reopen")
        await pilot.pause()
        app.chat.prompt.focus()
        await pilot.press(*"half a thought")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.chat.prompt.text == "", "the new chat")
        await pilot.press(*"a new idea")
    # Quitting right after typing: the draft is saved on the way out.
    with SessionStore.open(paths.sessions_db) as sessions:
        assert sessions.draft(chat) == "half a thought"
        assert sessions.draft(None) == "a new idea"
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:  # a new chat with a draft comes back first
        await pilot.pause()
        assert app.session_id is None and app.chat.prompt.text == "a new idea"
        app.chat.action_open_session(chat)
        await wait_for(pilot, lambda: app.chat.prompt.text == "half a thought", "the draft")


async def test_edit_last_keeps_the_draft_and_escape_brings_it_back(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hello")
        await pilot.press(*"unsent words", "ctrl+e")
        assert app.editing and app.chat.prompt.text == "Hello"
        await pilot.press("escape")
        assert not app.editing and app.chat.prompt.text == "unsent words"


async def test_a_theme_from_the_palette_is_saved(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.theme = "nord"  # what the palette's theme picker sets
        await pilot.pause()
    settings, _ = load_settings(paths.settings_file)
    assert settings.theme == "nord"


async def test_the_context_meter_shows_a_new_limit_at_once(paths):
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        await send(pilot, "Hi")
        used = app.chat.status.context_used
        before = len(app.finished_jobs)
        app.apply_settings(replace(app.settings, context_limit=4096))
        await wait_for(pilot, lambda: len(app.finished_jobs) > before, "the settings job")
        await pilot.pause()
        assert app.chat.status.context_text == f"ctx {used:,}/4,096"


async def test_a_draft_is_saved_each_time_typing_rests_not_only_the_first(paths):
    # A crash must not lose more than the last half second of typing: the draft is saved
    # after every pause, while the app runs, not only on the first pause or on the way out.
    chat = seed_chat(paths, "Saved", exchange(1))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id == chat, "the last chat to reopen")
        app.chat.prompt.focus()
        sessions = app.controller.sessions
        await pilot.press(*"first")
        await wait_for(pilot, lambda: sessions.draft(chat) == "first", "the first draft")
        await pilot.press(*" and more")
        await wait_for(pilot, lambda: sessions.draft(chat) == "first and more", "the next draft")


async def test_text_typed_while_the_last_chat_reopens_is_kept(paths):
    # The last chat reopens on start while the user may already be typing: the chat's saved
    # draft comes back and what was typed stays after it (it used to be replaced).
    chat = seed_chat(paths, "Saved", exchange(1))
    with SessionStore.open(paths.sessions_db) as sessions:
        sessions.set_draft(chat, "saved words")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session_id == chat, "the last chat to reopen")
        drafts = app.chat.drafts
        drafts._reopening = chat  # as on start: the reopen is still on its way
        app.chat.prompt.set_text("typed meanwhile")
        drafts.save(None)  # the pause timer filed it under the new chat
        drafts.show(chat)
        assert app.chat.prompt.text == "saved words\n\ntyped meanwhile"
        await wait_for(
            pilot,
            lambda: app.controller.sessions.draft(chat) == "saved words\n\ntyped meanwhile",
            "the joined draft to be saved",
        )
        assert app.controller.sessions.draft(None) == ""


def first_visible_question(app) -> int:
    """The number n of the topmost "Qn" message in view."""
    messages = app.chat.messages
    top = messages.scroll_y
    shown = [u for u in widgets(app, UserMessage) if u.virtual_region.bottom > top]
    return int(shown[0].text[1:])


async def settled_on(pilot, chat: int) -> None:
    """Until ``chat`` reopened, the model loaded and the screen filled."""
    app = pilot.app
    await wait_for(pilot, lambda: app.session_id == chat, "the last chat to reopen")
    await model_ready(pilot)
    ended = lambda: {Job.LOAD, Job.OPEN_SESSION} <= {job.job for job in app.finished_jobs}  # noqa: E731
    await wait_for(pilot, ended, "the chat open as the model loaded")
    await wait_for(pilot, lambda: widgets(app, AssistantMessage), "the newest messages")
    await wait_for(pilot, lambda: not app.chat.messages.loading_older, "the screen to fill")


async def test_ctrl_home_shows_the_first_message_of_a_long_chat_and_ctrl_end_the_newest(paths):
    chat = seed_chat(paths, "Very long", exchange(500))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await settled_on(pilot, chat)
        await pilot.press("ctrl+home")
        await pilot.pause()
        messages = app.chat.messages
        assert widgets(app, UserMessage)[0].text == "Q0"
        assert messages.scroll_y == 0 and first_visible_question(app) == 0
        assert messages.query_children(NewerNote)  # the rest comes on scrolling down
        assert len(messages.children) < 100
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: widgets(app, AssistantMessage)[-1].text == "A499", "the end")
        assert not messages.query_children(NewerNote)


async def test_pgup_held_walks_back_steadily_through_pages_as_they_load(paths):
    chat = seed_chat(paths, "Long", exchange(80))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await settled_on(pilot, chat)
        seen = [first_visible_question(app)]
        for _ in range(60):
            await pilot.press("pageup")
            seen.append(first_visible_question(app))
            if seen[-1] == 0:  # at the first question: further presses would only sit there
                break
        assert seen == sorted(seen, reverse=True)  # never thrown back towards the end
        assert seen[-1] < seen[0] - 40


async def test_an_older_page_landing_after_ctrl_end_leaves_the_view_at_the_end(paths):
    # An older page keeps the view on what the user was reading by scrolling down by its
    # height. The user who went to the end meanwhile stays there, following new text: the
    # page must not let go of the end (the chat would then grow away below the view).
    chat = seed_chat(paths, "Long", exchange(60))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await settled_on(pilot, chat)
        messages = app.chat.messages
        messages.scroll_home(animate=False, immediate=True)
        await wait_for(pilot, lambda: messages.loading_older, "an older page to start")
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: not messages.loading_older, "the page to land")
        await pilot.pause()
        assert messages.following
        assert messages.scroll_y == messages.max_scroll_y > 0


async def test_a_chat_of_short_messages_fills_the_screen_each_time_it_is_opened(paths):
    # Its newest messages do not fill the screen, and what cannot scroll cannot be scrolled up
    # to: older pages are mounted until it scrolls. That is decided on the new messages' own
    # layout, not on the sizes of what was shown before (here the same chat, filled: it
    # looked full, and the chat stayed stuck on six messages).
    chat = seed_chat(paths, "Short", [("user", "A question"), ("assistant", "An answer.")] * 8)
    app = make_app(paths)
    async with app.run_test(size=(80, 24)) as pilot:
        messages = app.chat.messages
        for _ in range(3):
            await open_and_settle(pilot, chat)
            await wait_for(
                pilot, lambda: messages.max_scroll_y > 0 or not messages.older, "pages", 10
            )


async def test_an_older_page_lands_above_the_view_without_a_frame_of_it_shifted(paths):
    # Each frame painted while a page of older messages is mounted above the view shows the
    # message at the top of the view where it was: not one frame pushed down by the page.
    chat = seed_chat(paths, "Long", exchange(150))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_and_settle(pilot, chat)
        messages = app.chat.messages
        screen = app.screen
        painted: list[int | None] = []  # the marked message's row on screen, frame by frame
        marker: list = []
        # Each frame is painted here (Textual has no public hook for "a frame was painted").
        paint = screen._compositor_refresh

        def paint_and_note() -> None:
            paint()
            if marker:
                region = screen.find_widget(marker[0]).region if marker[0].is_mounted else None
                painted.append(region.y if region else None)

        screen._compositor_refresh = paint_and_note
        for _ in range(3):  # three pages land, one after the other
            await wait_for(pilot, lambda: not messages.loading_older, "a page to settle")
            note = messages.query_children(OlderNote).first()
            marker[:] = [messages.children[messages.children.index(note) + 1]]
            painted.clear()
            shown = len(messages.children)
            messages.scroll_to(y=1, animate=False, immediate=True)  # near the top: a page comes
            await wait_for(
                pilot,
                lambda shown=shown: len(messages.children) > shown and not messages.loading_older,
                "the page to land",
            )
            await pilot.pause()
            assert painted and len(set(painted)) == 1, painted
