"""One turn under a preset: its system prompt and temperature apply to that turn only.

The preset's settings are swapped into the conversation for the one answer and put back
whatever happens, so the next turn, the saved chat and its stored system prompt are the chat's
own again (``ChatJobs.send`` with a preset).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from llama_chat.chat.conversation import Conversation
from llama_chat.chat.presets import Preset


@contextmanager
def preset_applied(conversation: Conversation, preset: Preset) -> Iterator[None]:
    """``conversation`` with the preset's system prompt and temperature, for the block only."""
    own_prompt, own_settings = conversation.system_prompt, conversation.settings
    own_start = conversation.window_start
    if preset.system_prompt is not None:
        conversation.system_prompt = preset.system_prompt
    if preset.temperature is not None:
        sampling = replace(own_settings.sampling, temperature=preset.temperature)
        conversation.settings = replace(own_settings, sampling=sampling)
    try:
        yield
    finally:
        conversation.system_prompt, conversation.settings = own_prompt, own_settings
        # A longer preset prompt may have moved the window on; the chat's own prompt need not.
        conversation.window_start = min(conversation.window_start, own_start)
