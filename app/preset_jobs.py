"""One turn under a preset: its system prompt and temperature apply to that turn only.

Runs on the engine thread, like ChatJobs (whose open chat it borrows). The preset's settings
are swapped into the conversation for the one answer and put back whatever happens, so the
next turn, the saved chat and its stored system prompt are the chat's own again.
"""

from __future__ import annotations

from dataclasses import replace

from llama_chat.chat.presets import Preset
from llama_chat.chat_jobs import ChatJobs
from llama_chat.events import TurnFinished


class PresetJobs:
    def __init__(self, jobs: ChatJobs) -> None:
        self.jobs = jobs

    def send(self, text: str, preset: Preset) -> TurnFinished | None:
        """Send ``text`` (the preset already applied) with the preset's sampling and prompt."""
        jobs = self.jobs
        if jobs._model is None:
            return jobs.send(text)  # it says that no model is loaded
        if jobs._conversation is None:
            jobs._conversation = jobs._make_conversation([], jobs.settings.system_prompt, None)
        conversation = jobs._conversation
        # A new chat is created now, with its own system prompt: one created inside send()
        # would store the preset's.
        jobs._ensure_session(text)
        own_prompt, own_settings = conversation.system_prompt, conversation.settings
        if preset.system_prompt is not None:
            conversation.system_prompt = preset.system_prompt
        if preset.temperature is not None:
            sampling = replace(own_settings.sampling, temperature=preset.temperature)
            conversation.settings = replace(own_settings, sampling=sampling)
        try:
            return jobs.send(text)
        finally:
            conversation.system_prompt, conversation.settings = own_prompt, own_settings
