"""The first answer in a long chat that has no saved KV cache (imported, or its cache evicted).

    python scripts/bench_imported_chat.py                  # 1,000 messages, 3 rounds
    python scripts/bench_imported_chat.py --messages 400 --rounds 5

For each round it writes a chat of that many messages into a fresh app home (as an import leaves
it: messages in the store, no KV cache), opens it through the real controller on the demo model,
and sends one question two ways, alternating:

- at once: the question is sent as the chat opens, so the read-ahead gives way to it and its
  own prefill reads the window;
- after the read: the user reads the chat for a moment first; the read-ahead (the status bar's
  "reading prompt n/m") is left to finish, and the question reads only its own turn.

Times are from the send to the first text emitted by the engine; medians [min–max].
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llama_chat.controller import ChatController  # noqa: E402
from llama_chat.events import Job, JobFinished, TextDelta, TurnFinished  # noqa: E402
from llama_chat.models.demo import ensure_demo_checkpoint  # noqa: E402
from llama_chat.paths import AppPaths  # noqa: E402
from llama_chat.settings import Settings  # noqa: E402
from llama_chat.store.sessions import SessionStore  # noqa: E402

QUESTION = "What did we decide about the plan?"


def seed(paths: AppPaths, messages: int) -> int:
    store = SessionStore.open(paths.sessions_db)
    info = store.create_session(
        title="Imported", system_prompt="Be brief.", settings={}, model="demo", quant="4bit"
    )
    parent = None
    for n in range(messages // 2):
        for role, text in (
            ("user", f"Question {n}: what about step {n} of the plan, and who does it?"),
            ("assistant", f"Step {n} is done by team {n % 7}; it takes {n % 5 + 1} days."),
        ):
            parent = store.add_message(info.id, role, text, parent_id=parent).id
    store.close()
    return info.id


def one_round(home: Path, demo: Path, messages: int, wait_for_read: bool) -> tuple[float, float]:
    """(seconds from send to first text, seconds the read-ahead took before the send)."""
    os.environ["LLAMA_CHAT_HOME"] = str(home)
    paths = AppPaths.from_env().ensure()
    (paths.cache_dir / "demo-checkpoint").symlink_to(demo)
    chat = seed(paths, messages)
    first_text, read_done = threading.Event(), threading.Event()
    sent_at = [0.0]
    first_at = [0.0]

    def on_event(event) -> None:  # the engine thread
        if isinstance(event, TextDelta) and sent_at[0] and not first_text.is_set():
            first_at[0] = time.perf_counter()
            first_text.set()
        elif isinstance(event, JobFinished) and event.job == Job.READ_CHAT:
            read_done.set()

    controller = ChatController(Settings(max_tokens=8, temperature=0.0), paths, on_event, demo=True)
    try:
        assert controller.load_model().result(timeout=300)
        read_done.clear()  # the load's read-ahead had no chat open
        opened = time.perf_counter()
        controller.open_session(chat).result(timeout=300)
        if wait_for_read:
            read_done.wait(timeout=600)
        reading = time.perf_counter() - opened if wait_for_read else 0.0
        sent_at[0] = time.perf_counter()
        finished = controller.send(QUESTION).result(timeout=600)
        assert isinstance(finished, TurnFinished) and first_text.is_set()
        return first_at[0] - sent_at[0], reading
    finally:
        controller.close()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s [{min(values):.2f}–{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    at_once: list[float] = []
    after: list[float] = []
    reads: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        demo = ensure_demo_checkpoint(Path(tmp) / "demo")
        for n in range(args.rounds):
            first, _ = one_round(Path(tmp) / f"a{n}", demo, args.messages, wait_for_read=False)
            at_once.append(first)
            first, read = one_round(Path(tmp) / f"b{n}", demo, args.messages, wait_for_read=True)
            after.append(first)
            reads.append(read)
            print(
                f"round {n + 1}: at once {at_once[-1]:.2f} s; read {read:.2f} s, then {first:.2f} s"
            )
    print(f"\n{args.messages:,} messages, no saved KV cache, demo model")
    print(f"first text, sent as the chat opens:          {spread(at_once)}")
    print(f"read-ahead (open to read, progress shown):   {spread(reads)}")
    print(f"first text, sent after the read-ahead:       {spread(after)}")


if __name__ == "__main__":
    main()
