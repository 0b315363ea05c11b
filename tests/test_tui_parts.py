"""How the chat screen is put together: one screen, and widgets that own their features."""

from __future__ import annotations

from textual.screen import Screen

from llama_chat.tui.keys import CHAT_KEYS, MESSAGE_LIST_KEY_IDS
from llama_chat.tui.screens.chat import ChatScreen
from llama_chat.tui.widgets.message_list import MessageList


def test_the_chat_screen_is_one_screen_without_mixins() -> None:
    assert ChatScreen.__bases__ == (Screen,)


def test_the_message_list_holds_the_keys_that_act_on_it_and_the_screen_the_rest() -> None:
    list_ids = {b.id for b in MessageList.BINDINGS if b.id}
    screen_ids = {b.id for b in ChatScreen.BINDINGS}
    assert (
        list_ids
        == MESSAGE_LIST_KEY_IDS
        == {"cursor.older", "cursor.newer", "cursor.copy", "cursor.code", "cursor.save"}
    )
    assert screen_ids | list_ids == {b.id for b in CHAT_KEYS} and not screen_ids & list_ids
