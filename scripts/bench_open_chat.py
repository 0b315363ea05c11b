"""How long the app takes to show the last screen of a long saved chat, and to quit after.

    python scripts/bench_open_chat.py                    # 100, 1,000 and 10,000 messages
    python scripts/bench_open_chat.py --messages 1000

For each size it writes a chat of that many messages (questions and Markdown answers) into a
fresh app home, runs the real app headless on the demo model, opens the chat the way the
sidebar does, and times until the newest message is mounted, laid out and inside the visible
part of the message list. Then it times the app's quit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llama_chat.models.demo import ensure_demo_checkpoint  # noqa: E402
from llama_chat.paths import AppPaths  # noqa: E402
from llama_chat.settings import Settings  # noqa: E402
from llama_chat.store.sessions import SessionStore  # noqa: E402
from llama_chat.tui.app import LlamaChatApp  # noqa: E402
from llama_chat.tui.widgets.message import AssistantMessage  # noqa: E402

ANSWER = (
    "Here is **step {n}** of the plan:\n\n"
    "1. Check the `config` file\n2. Run the tests\n\n"
    "```python\nprint({n})\n```\n\nThat should do it."
)


def seed(paths: AppPaths, count: int) -> int:
    """A chat of ``count`` messages in one transaction (the import path)."""
    store = SessionStore.open(paths.sessions_db)
    messages = []
    for n in range(count):
        role = "user" if n % 2 == 0 else "assistant"
        content = f"Question {n}: what comes next?" if role == "user" else ANSWER.format(n=n)
        messages.append(
            {
                "id": n + 1,
                "parent": n or None,
                "role": role,
                "content": content,
                "tool_calls": None,
                "status": "complete",
                "created_at": "2026-01-01T00:00:00+00:00",
            }
        )
    session = {
        "title": f"{count} messages",
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
        "system_prompt": "",
        "settings": {},
        "model": "demo",
        "quant": "4bit",
        "template_date": None,
    }
    info = store.add_session_tree(session, messages)
    store.close()
    return info.id


def last_visible(app: LlamaChatApp, wanted: str) -> bool:
    answers = app.chat.messages.query_children(AssistantMessage)
    if not answers:
        return False
    last = answers.last()
    region = app.chat.messages.scrollable_content_region
    return last.text == wanted and last.region.height > 0 and region.contains_region(last.region)


async def measure(home: Path, count: int) -> tuple[float, float]:
    os.environ["LLAMA_CHAT_HOME"] = str(home)
    paths = AppPaths.from_env().ensure()
    (paths.cache_dir / "demo-checkpoint").symlink_to(ensure_demo_checkpoint(home.parent / "demo"))
    session_id = seed(paths, count)
    wanted = ANSWER.format(n=count - 1)
    # A new-chat draft makes the app start in a new chat, so the open below is what is timed.
    store = SessionStore.open(paths.sessions_db)
    if hasattr(store, "set_draft"):
        store.set_draft(None, "x")
    store.close()
    app = LlamaChatApp(Settings(max_tokens=8), paths, demo=True)
    async with app.run_test(size=(110, 40)) as pilot:
        while app.model_state != "ready":
            await pilot.pause(0.05)
        started = time.perf_counter()
        app.chat.action_open_session(session_id)
        while not last_visible(app, wanted):
            await asyncio.sleep(0.005)
        opened = time.perf_counter() - started
        started = time.perf_counter()
    quit_s = time.perf_counter() - started
    return opened, quit_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, nargs="*", default=[100, 1000, 10000])
    args = parser.parse_args()
    print(f"{'messages':>9}  {'last screen shown':>18}  {'quit':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.messages:
            home = Path(tmp) / f"home-{count}"
            opened, quit_s = asyncio.run(measure(home, count))
            print(f"{count:>9,}  {opened:>16.2f} s  {quit_s:>6.2f} s", flush=True)


if __name__ == "__main__":
    main()
