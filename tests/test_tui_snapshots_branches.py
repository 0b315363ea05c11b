"""What the branch switcher looks like at 80×24 (see test_tui_snapshots.py for the rules)."""

from __future__ import annotations

import sqlite3

import pytest
from textual.pilot import Pilot

from llama_chat.paths import AppPaths
from llama_chat.store.sessions import SessionStore
from llama_chat.tui.app import LlamaChatApp
from llama_chat.tui.widgets.branch_switcher import BranchSwitcher
from tests.test_tui_snapshots import LAST_USED, SMALL, paths, settle  # noqa: F401 (fixture)
from tests.tui_pilot import make_app, model_ready, wait_for

pytestmark = pytest.mark.xdist_group("snapshots")  # see test_tui_snapshots.py


@pytest.fixture
def forked_chat(paths: AppPaths) -> int:  # noqa: F811 (the fixture imported above)
    """An edited first question, answered three times, the second answer chosen."""
    with SessionStore.open(paths.sessions_db) as store:
        s = store.create_session(
            title="Big fish", system_prompt="", settings={}, model="demo", quant="4bit"
        )
        store.add_message(s.id, "user", "Name a fish")
        question = store.add_message(s.id, "user", "Name a big fish")
        for answer in ("Tuna.", "A marlin: up to 5 m long.", "The whale shark."):
            chosen = store.add_message(s.id, "assistant", answer, parent_id=question.id)
            if answer.startswith("A marlin"):
                marlin = chosen.id
        store.select_branch(marlin)
    with sqlite3.connect(paths.sessions_db) as conn:
        conn.execute("UPDATE sessions SET updated_at = ?", (LAST_USED,))
    return s.id


def test_branch_switcher_at_80x24(snap_compare, paths, forked_chat):  # noqa: F811
    async def run_before(pilot: Pilot) -> None:
        app: LlamaChatApp = pilot.app
        await model_ready(pilot)
        await wait_for(pilot, lambda: app.session_id == forked_chat, "the chat to open")
        await wait_for(
            pilot, lambda: len(app.chat.messages.query_children(BranchSwitcher)) == 2, "switchers"
        )
        await settle(pilot)

    assert snap_compare(make_app(paths), run_before=run_before, terminal_size=SMALL)
