"""Several processes opening the same brand-new database at once all succeed."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from llama_chat.store.migrations import MIGRATIONS, SCHEMA_VERSION
from llama_chat.store.sessions import SessionStore

PROCESSES = 4
ROUNDS = 12


def _open_and_report(path: str, start, results) -> None:
    start.wait()  # all processes open at the same moment
    try:
        with SessionStore.open(Path(path)) as store:
            store.list_sessions()
        results.put("ok")
    except Exception as exc:  # reported to the parent, which names it in the failure
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    failures = []
    for round_number in range(ROUNDS):
        path = tmp_path / f"round-{round_number}" / "sessions.db"
        path.parent.mkdir()
        start = context.Barrier(PROCESSES)
        results = context.Queue()
        workers = [
            context.Process(target=_open_and_report, args=(str(path), start, results))
            for _ in range(PROCESSES)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        failures += [outcome for outcome in outcomes if outcome != "ok"]
        with SessionStore.open(path) as store:
            applied = [row[0] for row in store._query("SELECT name FROM _migrations")]
        assert applied == [m.__name__ for m in MIGRATIONS]
    assert failures == [], f"{len(failures)} of {PROCESSES * ROUNDS} opens failed: {failures[:3]}"
    assert SCHEMA_VERSION == len(MIGRATIONS)
