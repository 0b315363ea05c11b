"""``llama-chat``: the TUI by default; ``-p`` (or text on stdin) answers once and exits.

llama-chat                                  open the chat app
llama-chat --demo                           the app on a tiny random model (no download)
llama-chat -p "Draft a polite reminder"     stream one answer to stdout
cat notes.txt | llama-chat -p "Summarise"   the piped text is the document
llama-chat --summarize report.txt           map-reduce summary of a long file
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from llama_chat.paths import AppPaths, StartupError
from llama_chat.settings import QUANT_LEVELS, Settings, load_settings
from mlx_model import SAMPLING_LIMITS, Limit

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what cat exits with


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not a usage dump
        self.exit(2, f"llama-chat: {message} (see llama-chat --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="llama-chat",
        description="Chat with Llama 3.2 3B Instruct on this machine, offline.",
    )
    parser.add_argument("-p", "--prompt", help="answer this prompt once and exit")
    parser.add_argument("--model", help="checkpoint directory or hub repo id")
    parser.add_argument("--quant", choices=QUANT_LEVELS, help="model precision (default: setting)")
    parser.add_argument("--system", help="system prompt for this run")
    parser.add_argument("--max-tokens", type=_positive_int, help="longest answer in tokens")
    for flag, key in (("--temp", "temperature"), ("--top-p", "top_p"), ("--seed", "seed")):
        limit = SAMPLING_LIMITS[key]
        parser.add_argument(
            flag, dest=key, type=_limited(limit), help=f"{limit.help} ({limit.expected})"
        )
    parser.add_argument("--context-limit", type=_positive_int, help="context window in tokens")
    parser.add_argument("--summarize", metavar="FILE", help="summarise FILE (any length)")
    parser.add_argument("--tools", action="store_true", help="offer tools; ask before each run")
    parser.add_argument(
        "--allow-tools", action="store_true", help="offer tools; run without asking"
    )
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument(
        "--no-prompt-lookup",
        dest="prompt_lookup",
        action="store_const",
        const=False,
        help="decode one token per step (no guesses copied from the prompt)",
    )
    parser.add_argument(
        "--demo", action="store_true", help="tiny random-weight model: try the app with no download"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print stats to stderr")
    return parser


def _limited(limit: Limit) -> Callable[[str], float | int | None]:
    """An argparse type for one sampling flag: the engine's own limits, its own words."""

    def parse(text: str) -> float | int | None:
        try:
            return limit.check(int(text) if text.strip().lstrip("+-").isdigit() else float(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {limit.expected}, got {text!r}") from None

    parse.__name__ = limit.name
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except StartupError as exc:
        return _fail(str(exc))


def _run(args: argparse.Namespace) -> int:
    paths = AppPaths.from_env()
    settings, warnings = load_settings(paths.settings_file)
    settings = _with_overrides(settings, args)
    piped = not sys.stdin.isatty()
    if args.prompt is None and args.summarize is None and not piped:
        from llama_chat.tui.app import run_tui

        return run_tui(
            settings,
            paths,
            demo=args.demo,
            model_dir=args.model,
            offline=args.offline,
            settings_warnings=warnings,
        )
    for warning in warnings:
        print(f"llama-chat: settings: {warning}", file=sys.stderr)
    try:
        return _one_shot(args, settings, paths, piped)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as cat does. Point stdout at /dev/null
        # so the interpreter's own flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    from dataclasses import replace

    from llama_chat.settings import validate_setting

    changes = {
        "quant": args.quant,
        "system_prompt": args.system,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "seed": args.seed,
        "context_limit": args.context_limit,
        "prompt_lookup": args.prompt_lookup,
    }
    checked = {}
    for key, value in changes.items():
        if value is None:
            continue
        try:
            checked[key] = validate_setting(key, value)
        except ValueError as exc:
            raise SystemExit(f"llama-chat: {exc}") from None
    if args.offline:
        checked["offline"] = True
    return replace(settings, **checked)


def _fail(message: str) -> int:
    print(f"llama-chat: {message}", file=sys.stderr)
    return 1


def _one_shot(args: argparse.Namespace, settings: Settings, paths, piped: bool) -> int:
    document = None
    if args.summarize is not None:
        try:
            document = Path(args.summarize).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"cannot read {args.summarize}: {getattr(exc, 'strerror', None) or exc}")
        if not document.strip():
            return _fail(f"{args.summarize} is empty: there is nothing to summarise")
    elif piped:
        try:
            document = sys.stdin.read()
        except UnicodeDecodeError:
            return _fail("the text on standard input is not UTF-8")
        if not document.strip():
            document = None  # an empty pipe (or /dev/null) is no document
        elif args.prompt is None:
            document, args.prompt = None, document
    if not (args.prompt or "").strip() and document is None and args.summarize is None:
        return _fail("the prompt is empty")

    from llama_chat.models.loader import ModelLoadError, load_checked

    progress = _ProgressLine()
    try:
        loaded = load_checked(
            settings,
            settings.quant,
            cache_dir=paths.ensure().cache_dir,
            model=args.model,
            demo=args.demo,
            offline=settings.offline,
            on_progress=progress.update,
        )
    except ModelLoadError as exc:
        return _fail(str(exc))
    finally:
        progress.done()
    if args.demo:
        print("llama-chat: demo model (random weights): the text is meaningless", file=sys.stderr)
    return _answer(args, settings, loaded.model, loaded.tokenizer, document)


def _answer(args, settings: Settings, model, tokenizer, document: str | None) -> int:
    from llama_chat.chat.conversation import Conversation, GenerationSettings
    from llama_chat.chat.summarize import DOCUMENT_PROMPT, SummaryError, count_tokens, summarize
    from llama_chat.events import (
        ContextTrimmed,
        SummaryProgress,
        TextDelta,
        ToolCallRequested,
        TurnFinished,
    )
    from llama_chat.tools import default_registry

    generation = GenerationSettings.from_settings(settings)
    cancel = threading.Event()
    out = _Output(hold_tool_calls=args.tools or args.allow_tools)

    def emit(event) -> None:
        if isinstance(event, TextDelta):
            out.write(event.text)
        elif isinstance(event, ToolCallRequested):
            out.drop_held()
            print(f"[tool] {event.call.name}({event.call.arguments})", file=sys.stderr)
        elif isinstance(event, SummaryProgress):
            print(f"[{event.stage} {event.done}/{event.total}]", file=sys.stderr)
        elif isinstance(event, ContextTrimmed):
            print(f"[dropped {event.dropped_messages} old messages to fit]", file=sys.stderr)
        elif isinstance(event, TurnFinished):
            out.flush()

    try:
        if document is not None and (
            args.summarize is not None
            or count_tokens(
                tokenizer, DOCUMENT_PROMPT.format(text=document, instruction=args.prompt or "")
            )
            > settings.context_limit - settings.max_tokens - 256
        ):
            if args.summarize is None:
                print(
                    "[document longer than the context: summarising it in parts]", file=sys.stderr
                )
            finished = summarize(
                model,
                tokenizer,
                document,
                instruction=args.prompt or "Write a concise summary of the whole document.",
                system_prompt=settings.system_prompt,
                settings=generation,
                emit=emit,
                cancel=cancel,
            )
        else:
            text = args.prompt
            if document is not None:
                text = DOCUMENT_PROMPT.format(text=document.strip(), instruction=args.prompt)
            tools = None
            if args.tools or args.allow_tools:
                tools = default_registry([Path(p).expanduser() for p in settings.allowed_folders])
            conversation = Conversation(
                model,
                tokenizer,
                system_prompt=settings.system_prompt,
                settings=generation,
                tools=tools,
            )
            conversation.add_user(text)
            finished = conversation.respond(
                emit, cancel=cancel, approve=_approver(args.allow_tools)
            )
    except SummaryError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        cancel.set()
        out.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()
        print("llama-chat: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not out.ended_with_newline:
        sys.stdout.write("\n")
    sys.stdout.flush()
    if args.verbose:
        s = finished.stats
        print(
            f"[{finished.finish_reason}] prompt {s.prompt_tokens} tok ({s.cached_tokens} cached) "
            f"at {s.prompt_tps:.1f} tok/s, first token {s.ttft_s:.2f}s, "
            f"{s.generation_tokens} tok at {s.generation_tps:.1f} tok/s, "
            f"peak memory {s.peak_memory_gb:.2f} GB",
            file=sys.stderr,
        )
    if finished.finish_reason == "error":
        return _fail(finished.error or "generation failed")
    return 0


def _approver(allow_all: bool):
    def approve(call) -> bool:
        if allow_all:
            return True
        try:
            with open("/dev/tty", "r+", encoding="utf-8") as tty:
                tty.write(f"Run tool {call.name} with {call.arguments}? [y/N] ")
                tty.flush()
                return tty.readline().strip().lower() in ("y", "yes")
        except OSError:
            return False  # no terminal to ask: never run a tool unasked

    return approve


class _Output:
    """Streams the answer to stdout; holds back text that may turn out to be a tool call."""

    def __init__(self, hold_tool_calls: bool):
        self.hold_tool_calls = hold_tool_calls
        self.held: list[str] | None = [] if hold_tool_calls else None
        self.ended_with_newline = True

    def write(self, text: str) -> None:
        if self.held is not None:
            self.held.append(text)
            start = "".join(self.held).lstrip()
            if not start:
                return
            if start[0] in "{[<":
                return  # looks like a call: wait for the end of the message
            text, self.held = "".join(self.held), None
        self._emit(text)

    def drop_held(self) -> None:
        self.held = [] if self.hold_tool_calls else None

    def flush(self) -> None:
        if self.held:
            self._emit("".join(self.held))
        self.held = [] if self.hold_tool_calls else None
        sys.stdout.flush()

    def _emit(self, text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
            self.ended_with_newline = text.endswith("\n")


class _ProgressLine:
    """A one-line download progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self):
        self.shown = False
        self.enabled = sys.stderr.isatty() and not os.environ.get("CI")

    def update(self, p) -> None:
        if not self.enabled:
            return
        total = max(p.bytes_total, 1)
        width = 30
        filled = int(width * p.bytes_done / total)
        eta = f"{p.eta_s:.0f}s" if p.eta_s is not None else "?"
        sys.stderr.write(
            f"\rdownloading [{'#' * filled}{'.' * (width - filled)}] "
            f"{p.bytes_done / 1e9:.2f}/{total / 1e9:.2f} GB {p.rate_bps / 1e6:.1f} MB/s ETA {eta}  "
        )
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


if __name__ == "__main__":
    raise SystemExit(main())
