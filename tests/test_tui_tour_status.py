"""The status bar says what was loaded: a folder given with --model shows its own precision,
not the saved setting."""

from __future__ import annotations

import pytest

from llama_chat.settings import Settings
from tests.tui_pilot import SIZE, DrivenApp, model_ready

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("checkpoint, shown", [("tiny_4bit", "4bit"), ("tiny_bf16", "bf16")])
async def test_a_model_folder_shows_the_precision_it_was_saved_in(
    paths, request, checkpoint, shown
):
    folder = request.getfixturevalue(checkpoint)
    app = DrivenApp(Settings(quant="8bit"), paths, model_dir=folder)
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        text = app.chat.status.model_text
        assert text == f"{folder.name} · {shown}"
        assert "8bit" not in text
