"""Time opening the session database and loading a long chat.

Writes a chat of 10,000 messages (a user/assistant exchange repeated, with a few regenerated
answers so the active path has to pick branches), closes the store, then reopens it and loads the
active path, as the app does when the user picks that chat. Target: under 1 second.

    python scripts/bench_sessions.py [--messages 10000] [--db PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llama_chat.store.sessions import SessionStore  # noqa: E402

ANSWER = (
    "Here is a reasonably long answer, about the length a chat model gives, so the database "
    "holds realistic amounts of text. " * 6
)


def fill(path: Path, n_messages: int) -> tuple[int, int]:
    """Returns (session id, messages written including regenerated answers)."""
    with SessionStore.open(path) as store:
        session = store.create_session(
            title="Long chat", system_prompt="Be brief.", settings={}, model="bench", quant="4bit"
        )
        parent = None
        written = 0
        for i in range(n_messages // 2):
            question = store.add_message(session.id, "user", f"Question {i}?", parent_id=parent)
            answer = store.add_message(session.id, "assistant", ANSWER, parent_id=question.id)
            if i % 50 == 0:  # a regenerated answer: the active path follows this one
                answer = store.add_message(session.id, "assistant", ANSWER, parent_id=question.id)
                written += 1
            written += 2
            parent = answer.id
        return session.id, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--db", type=Path, help="database file to create (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "sessions.db"
        started = time.perf_counter()
        session_id, written = fill(path, args.messages)
        print(f"wrote {written} messages in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        store = SessionStore.open(path)
        opened = time.perf_counter()
        path_messages = store.active_path(session_id)
        loaded = time.perf_counter()
        store.close()
        print(f"open: {opened - started:.3f} s")
        print(f"active path ({len(path_messages)} messages): {loaded - opened:.3f} s")
        total = loaded - started
        print(f"total: {total:.3f} s ({'OK' if total < 1.0 else 'SLOWER THAN'} target 1 s)")


if __name__ == "__main__":
    main()
