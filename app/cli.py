"""``llama-chat``: the TUI by default; ``-p`` (or text on stdin) answers once and exits.

llama-chat                                  open the chat app
llama-chat --demo                           the app on a tiny random model (no download)
llama-chat --keys                           press keys, see what the app receives
llama-chat -p "Draft a polite reminder"     stream one answer to stdout
cat notes.txt | llama-chat -p "Summarise"   the piped text is the document
llama-chat --summarize report.txt           map-reduce summary of a long file
llama-chat export [CHAT] [--format md|json] [-o FILE]   a saved chat to a file (cli_sessions.py)
llama-chat import FILE.json                 add an exported chat
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace

from llama_chat import cli_sessions
from llama_chat.cli_answer import EXIT_INTERRUPTED, one_shot
from llama_chat.paths import AppPaths, StartupError
from llama_chat.settings import QUANT_LEVELS, Settings, load_settings
from mlx_model import SAMPLING_LIMITS, Limit

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what cat exits with


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not a usage dump
        self.exit(2, f"llama-chat: {message} (see llama-chat --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="llama-chat",
        description="Chat with Llama 3.2 3B Instruct on this machine, offline.",
        epilog=_subcommands_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-p", "--prompt", help="answer this prompt once and exit")
    # --demo is a model too: naming both is a mistake to point out, not to settle silently.
    which_model = parser.add_mutually_exclusive_group()
    which_model.add_argument("--model", help="checkpoint directory or hub repo id")
    parser.add_argument("--quant", choices=QUANT_LEVELS, help="model precision (default: setting)")
    parser.add_argument("--system", help="system prompt for this run")
    parser.add_argument("--max-tokens", type=_positive_int, help="longest answer in tokens")
    for flag, key in (("--temp", "temperature"), ("--top-p", "top_p"), ("--seed", "seed")):
        limit = SAMPLING_LIMITS[key]
        parser.add_argument(flag, dest=key, type=_limited(limit), help=limit.described)
    parser.add_argument("--context-limit", type=_positive_int, help="context window in tokens")
    parser.add_argument("--summarize", metavar="FILE", help="summarise FILE (any length)")
    parser.add_argument(
        "--preset",
        metavar="NAME",
        help="apply a prompt-library preset to the text on stdin (or -p's text), e.g. fix, "
        "formal, summarise, 'translate French'",
    )
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
    which_model.add_argument(
        "--demo", action="store_true", help="tiny random-weight model: try the app with no download"
    )
    parser.add_argument(
        "--keys", action="store_true", help="press keys and see what the app receives (Ctrl+Q)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print stats to stderr")
    return parser


def _subcommands_epilog() -> str:
    """The subcommands, in their own parsers' words (each has its own --help)."""
    lines = ["subcommands (each has its own --help):"]
    for command in cli_sessions.SUBCOMMANDS:
        sub = cli_sessions.build_parser(command)
        lines.append(f"  {sub.prog:<22}{sub.description}")
    return "\n".join(lines)


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
    argv = sys.argv[1:] if argv is None else argv
    try:
        # A first word picks a subcommand; anything else is the chat's own flags, as before.
        if argv and argv[0] in cli_sessions.SUBCOMMANDS:
            return cli_sessions.main(argv, AppPaths.from_env())
        return _run(build_parser().parse_args(argv))
    except StartupError as exc:
        return _fail(str(exc))


def _run(args: argparse.Namespace) -> int:
    paths = AppPaths.from_env()
    settings, warnings = load_settings(paths.settings_file)
    settings = _with_overrides(settings, args)
    if args.keys:
        from llama_chat.tui.key_tester import run_key_tester

        return run_key_tester(settings.keys)
    piped = not sys.stdin.isatty()
    if args.prompt is None and args.summarize is None and args.preset is None and not piped:
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
        return one_shot(args, settings, paths, piped)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as cat does. Point stdout at /dev/null
        # so the interpreter's own flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:

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


if __name__ == "__main__":
    raise SystemExit(main())
