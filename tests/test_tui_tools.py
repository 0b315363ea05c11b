"""Tool calls wait for the user: the approval dialog, reached through real generation.

The checkpoint is scripted (tests/scripted.py): its greedy output really is a calculator call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_chat.settings import Settings
from llama_chat.tui.screens.tool_approval import ToolApprovalScreen
from llama_chat.tui.widgets.message import ToolCallMessage, ToolResultMessage
from tests.tui_pilot import SIZE, DrivenApp, model_ready, on_screen, wait_for, widgets

pytestmark = pytest.mark.anyio


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
    app = DrivenApp(
        Settings(max_tokens=20, temperature=0.0, tools=True), paths, model_dir=calculator_checkpoint
    )
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        before = app.turns_finished()
        await pilot.press(*"What is six times seven?", "enter")
        for answer in ["deny", "once", "always"]:
            await on_screen(pilot, ToolApprovalScreen, "the approval dialog")
            assert app.screen.call.name == "calculator"
            assert app.screen.call.arguments == {"expression": "6*7"}
            await pilot.click(f"#{answer}")
        await wait_for(pilot, lambda: app.turns_finished() > before, "the end of the turn")
        assert app.screen is app.chat, "after 'always' the tool runs without asking"

        calls = widgets(app, ToolCallMessage)
        results = widgets(app, ToolResultMessage)
        assert len(calls) == len(results) >= 4
        assert all(c.call_name == "calculator" for c in calls)
        assert results[0].has_class("-declined") and "42" not in results[0].full_text
        assert all("42" in r.full_text for r in results[1:])
        saved = app.controller.sessions.active_path(app.session_id)
        assert [m.role for m in saved[:3]] == ["user", "assistant", "ipython"]
        assert saved[1].tool_calls[0]["function"]["name"] == "calculator"


async def test_quitting_with_the_dialog_open_answers_it_with_deny(paths, calculator_checkpoint):
    app = DrivenApp(
        Settings(max_tokens=20, temperature=0.0, tools=True), paths, model_dir=calculator_checkpoint
    )
    async with app.run_test(size=SIZE) as pilot:
        await model_ready(pilot)
        app.chat.prompt.focus()
        await pilot.press(*"What is six times seven?", "enter")
        await on_screen(pilot, ToolApprovalScreen, "the approval dialog")
        await pilot.press("ctrl+q")  # must not hang on the engine thread's open question
    assert app.return_code == 0
