"""The chat app against the command line on the same model and prompt: what the screen costs.

    python scripts/bench_tui.py                       # demo model, 5 interleaved rounds
    python scripts/bench_tui.py --tokens 400 --rounds 7
    python scripts/bench_tui.py --synthetic 200       # a token source at 200 tokens/s
    python scripts/bench_tui.py --synthetic 60 --first-token 0.2   # ... that prefills 0.2 s

Both sides run in this process, on one demo checkpoint, greedy, so every round writes the same
tokens. The CLI side is the CLI's own answer function (what ``llama-chat -p`` runs after the
model is loaded) with its output taken instead of printed. The app side is the real app, headless
(``App.run_test``): the prompt is typed into the message box of a new chat and Enter pressed.
Rounds alternate CLI, app, CLI, app...; the tables give the median and, in brackets, the lowest
and highest.

- first token: from the call (CLI) or Enter (app) to the first text printed / handed to the
  answer's Markdown widget.
- tokens/s: tokens after the first over the time between the first and the last one shown.
- turn: from the call / Enter to the end (app: the turn's JobFinished handled and the screen
  refreshed after it).
- engine: the engine's own time for the answer (its TurnStarted to its TurnFinished, taken on
  the engine thread).
- overhead: turn minus engine; the app's also against the CLI's median turn.

``--synthetic N`` replaces the engine's token source (``mlx_model.stream_generate``, the one
boundary between the chat code and the model) by one that writes a Markdown answer (prose, a
list, a code block) at N tokens/s, about what Llama 3.2 3B does on Apple silicon, which the demo
model cannot do on every CPU. It shows whether the screen keeps up: tokens shown per second and
the lag from a token's emission to its display, early in the answer and late in it (a lag that
grows means the screen falls behind).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import on  # noqa: E402
from textual.widgets import Markdown  # noqa: E402

import mlx_model  # noqa: E402
from llama_chat import cli_answer, events  # noqa: E402
from llama_chat.models.demo import ensure_demo_checkpoint  # noqa: E402
from llama_chat.models.loader import load_checked  # noqa: E402
from llama_chat.paths import AppPaths  # noqa: E402
from llama_chat.settings import Settings  # noqa: E402
from llama_chat.store.sessions import SessionStore  # noqa: E402
from llama_chat.tui.app import LlamaChatApp  # noqa: E402
from llama_chat.tui.bridge import Core  # noqa: E402
from llama_chat.tui.state import TURN_JOBS  # noqa: E402

PROMPT = "Tell me about the sea, with an example in Python."
SYNTHETIC_ANSWER = (
    "The sea covers most of the **earth**, and it moves with the tides.\n\n"
    "Three things to know:\n\n"
    "1. It is salty\n2. It is deep\n3. It is *old*\n\n"
    "```python\ndef tide(hour):\n    return hour % 12\n```\n\n"
    "That is the short story of the sea, told in a few plain words.\n\n"
)


@dataclass
class Round:
    """What one answer took; times in seconds from the start (call or Enter)."""

    shown: list[tuple[float, int]] = field(default_factory=list)
    """(time, characters of the answer shown so far), each time more of it was shown."""
    emitted: list[tuple[float, int]] = field(default_factory=list)
    """(time, characters emitted so far), one per token the engine emitted."""
    engine_s: float = 0.0
    started_s: float = 0.0
    """When the engine started the answer (its TurnStarted)."""
    finished_s: float = 0.0
    """When the engine ended it (its TurnFinished)."""
    turn_s: float = 0.0

    @property
    def first_token_s(self) -> float:
        return self.shown[0][0]

    @property
    def tokens(self) -> int:
        return len(self.emitted)

    def tokens_per_s(self) -> float:
        span = self.shown[-1][0] - self.shown[0][0]
        return (self.tokens - 1) / span if span > 0 else float("nan")

    def lags(self) -> list[float]:
        """For each emitted token, how long after its emission it was first shown."""
        lags, i = [], 0
        for emitted_at, chars in self.emitted:
            while i < len(self.shown) and self.shown[i][1] < chars:
                i += 1
            if i < len(self.shown):
                lags.append(self.shown[i][0] - emitted_at)
        return lags


# -- the token source for --synthetic --------------------------------------------------------


def synthetic_source(rate: float, first_token_s: float = 0.0):
    """A stand-in for mlx_model.stream_generate that writes SYNTHETIC_ANSWER at ``rate``/s,
    the first token ``first_token_s`` after it is called (a prefill on a GPU: the engine waits
    and the CPU is free)."""
    pieces = re.findall(r"\s*\S+|\s+", SYNTHETIC_ANSWER)

    def stream_generate(model, tokenizer, prompt_ids, *, max_tokens=512, cancel=None, **_):
        called = time.perf_counter()
        start = called + first_token_s
        stats = mlx_model.GenerationStats(prompt_tokens=len(prompt_ids))
        for n in range(max_tokens):
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
            if cancel is not None and cancel.is_set():
                yield mlx_model.GenerationEvent(None, "", "cancelled", stats)
                return
            if n == 0:
                stats.ttft_s = time.perf_counter() - called
            yield mlx_model.GenerationEvent(0, pieces[n % len(pieces)], None, stats)
        stats.generation_tokens = max_tokens
        stats.generation_tps = rate
        yield mlx_model.GenerationEvent(None, "", "length", stats)

    return stream_generate


# -- the CLI side ---------------------------------------------------------------------------


def cli_round(settings: Settings, model, tokenizer) -> Round:
    result = Round()
    chars = 0
    start = time.perf_counter()

    def take(text: str) -> None:  # the CLI's stdout
        nonlocal chars
        if text:
            chars += len(text)
            result.shown.append((time.perf_counter() - start, chars))

    args = SimpleNamespace(
        prompt=PROMPT, summarize=None, tools=False, allow_tools=False, verbose=False
    )
    emitted = 0
    stream, write_out = mlx_model.stream_generate, cli_answer.write_out

    def counting(*a, **k) -> Iterator[mlx_model.GenerationEvent]:
        nonlocal emitted
        for event in stream(*a, **k):
            if event.text:
                emitted += len(event.text)
                result.emitted.append((time.perf_counter() - start, emitted))
            yield event

    mlx_model.stream_generate, cli_answer.write_out = counting, take
    try:
        cli_answer._answer(args, settings, model, tokenizer, None)
    finally:
        mlx_model.stream_generate, cli_answer.write_out = stream, write_out
    result.turn_s = time.perf_counter() - start
    result.engine_s = result.turn_s
    return result


# -- the app side ---------------------------------------------------------------------------


class BenchApp(LlamaChatApp):
    """The real app; notes when each answer job ends and every core event as it is emitted."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.round: Round | None = None
        self.start = 0.0
        self.done = asyncio.Event()
        self.opened = asyncio.Event()
        self._emitted_chars = 0
        post = self.controller.on_event

        def on_event(event: events.Event) -> None:  # runs on the engine thread
            now = time.perf_counter() - self.start
            if self.round is not None:
                if isinstance(event, events.TurnStarted):
                    self.round.started_s = now
                elif isinstance(event, events.TextDelta):
                    self._emitted_chars += len(event.text)
                    self.round.emitted.append((now, self._emitted_chars))
                elif isinstance(event, events.TurnFinished):
                    self.round.finished_s = now
                    self.round.engine_s = now - self.round.started_s
            post(event)

        self.controller.on_event = on_event

    def begin(self) -> Round:
        self.round, self.start, self._emitted_chars = Round(), time.perf_counter(), 0
        self.done.clear()
        return self.round

    @on(Core.SessionOpened)
    def _bench_opened(self) -> None:
        self.call_after_refresh(self.opened.set)

    @on(Core.JobFinished)
    def _bench_job_finished(self, message: Core.JobFinished) -> None:
        if message.event.job in TURN_JOBS and self.round is not None:
            self.call_after_refresh(self._turn_shown)

    def _turn_shown(self) -> None:
        if self.round is not None:
            self.round.turn_s = time.perf_counter() - self.start
            self.done.set()


def watch_markdown(app: BenchApp) -> None:
    """Note each time the answer's Markdown widget is handed more text (append or update)."""

    def noting(method):
        def wrapper(self: Markdown, markdown: str):
            result = method(self, markdown)
            if app.round is not None:
                app.round.shown.append((time.perf_counter() - app.start, len(self.source)))
            return result

        return wrapper

    Markdown.append = noting(Markdown.append)
    Markdown.update = noting(Markdown.update)


async def app_round(app: BenchApp, pilot) -> Round:
    app.opened.clear()
    app.controller.new_session()
    await asyncio.wait_for(app.opened.wait(), timeout=60)  # the new chat is on screen
    await pilot.pause(0.1)
    app.chat.prompt.text = PROMPT
    result = app.begin()
    await pilot.press("enter")
    await asyncio.wait_for(app.done.wait(), timeout=600)
    app.round = None
    # Each answer's first update is the empty Markdown of a new widget, not text.
    result.shown = [s for s in result.shown if s[1] > 0]
    return result


# -- tables ---------------------------------------------------------------------------------


def spread(values: list[float], unit: str = "", digits: int = 3) -> str:
    values = [v for v in values if v == v]  # NaN: not measured
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.{digits}f}{unit} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def seed_chats(paths: AppPaths, count: int) -> None:
    """``count`` saved chats of two messages, so that the sidebar lists a full page."""
    store = SessionStore.open(paths.sessions_db)
    for n in range(count):
        session = store.create_session(
            title=f"Saved chat {n}", system_prompt="", settings={}, model="demo", quant="4bit"
        )
        user = store.add_message(session.id, "user", f"Question {n}")
        store.add_message(session.id, "assistant", f"Answer {n}", parent_id=user.id)
    store.close()


def report(cli: list[Round], tui: list[Round], synthetic: float | None) -> None:
    rows = [("CLI", cli), ("app", tui)] if cli else [("app", tui)]
    print(f"\n{'':5} {'tokens':>6}  {'first token (s)':>24}  {'tokens/s':>24}  {'turn (s)':>24}")
    for name, rounds in rows:
        print(
            f"{name:5} {rounds[0].tokens:>6}  {spread([r.first_token_s for r in rounds]):>24}  "
            f"{spread([r.tokens_per_s() for r in rounds], digits=1):>24}  "
            f"{spread([r.turn_s for r in rounds]):>24}"
        )
    print(f"\n{'':5} {'engine (s)':>24}  {'overhead: turn - engine (s)':>28}")
    for name, rounds in rows:
        print(
            f"{name:5} {spread([r.engine_s for r in rounds]):>24}  "
            f"{spread([r.turn_s - r.engine_s for r in rounds]):>28}"
        )
    print(
        f"app overhead before the engine starts (Enter to TurnStarted): "
        f"{spread([r.started_s for r in tui], ' s')}; after it ends (TurnFinished to the turn "
        f"shown): {spread([r.turn_s - r.finished_s for r in tui], ' s')}"
    )
    if cli:
        cli_turn = statistics.median(r.turn_s for r in cli)
        print(f"app turn - CLI median turn: {spread([r.turn_s - cli_turn for r in tui], ' s')}")
    lags = [r.lags() for r in tui]
    tenth = [max(1, len(lag) // 10) for lag in lags]
    early = [statistics.median(lag[:n]) for lag, n in zip(lags, tenth, strict=True) if lag]
    late = [statistics.median(lag[-n:]) for lag, n in zip(lags, tenth, strict=True) if lag]
    print(
        f"\napp lag from emission to display, median over the first tenth of the tokens: "
        f"{spread([x * 1000 for x in early], ' ms', 1)}; over the last tenth: "
        f"{spread([x * 1000 for x in late], ' ms', 1)}"
    )
    if synthetic:
        print(f"the source wrote {synthetic:.0f} tokens/s")


async def run(args: argparse.Namespace, home: Path) -> None:
    os.environ["LLAMA_CHAT_HOME"] = str(home)
    paths = AppPaths.from_env().ensure()
    (paths.cache_dir / "demo-checkpoint").symlink_to(ensure_demo_checkpoint(home.parent / "demo"))
    seed_chats(paths, args.chats)
    settings = Settings(max_tokens=args.tokens, temperature=0.0)
    if args.synthetic:
        mlx_model.stream_generate = synthetic_source(args.synthetic, args.first_token)
    loaded = load_checked(settings, settings.quant, cache_dir=paths.cache_dir, demo=True)
    app = BenchApp(settings, paths, demo=True)
    watch_markdown(app)
    cli: list[Round] = []
    tui: list[Round] = []
    async with app.run_test(size=(args.width, args.height)) as pilot:
        while app.model_state != "ready":
            await pilot.pause(0.05)
        await app_round(app, pilot)  # warm-up: the first answer mounts the sidebar row etc.
        for n in range(args.rounds):
            if not args.app_only:
                # The app's loop is blocked meanwhile: the screen takes no CPU from the CLI.
                cli.append(cli_round(settings, loaded.model, loaded.tokenizer))
            tui.append(await app_round(app, pilot))
            last = tui[-1]
            print(
                f"round {n + 1}: app first token {last.first_token_s:.3f} s, "
                f"{last.tokens_per_s():.1f} tok/s, turn {last.turn_s:.2f} s, "
                f"engine {last.engine_s:.2f} s"
                + (f"; CLI turn {cli[-1].turn_s:.2f} s" if cli else ""),
                flush=True,
            )
    report(cli, tui, args.synthetic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=200, help="answer length (max_tokens)")
    parser.add_argument("--synthetic", type=float, default=None, metavar="TOKENS_PER_S")
    parser.add_argument(
        "--first-token",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --synthetic: the source's own time to its first token (a GPU prefill)",
    )
    parser.add_argument("--chats", type=int, default=60, help="saved chats in the sidebar")
    parser.add_argument("--app-only", action="store_true", help="skip the CLI rounds")
    parser.add_argument("--width", type=int, default=110)
    parser.add_argument("--height", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp) / "home"))


if __name__ == "__main__":
    main()
