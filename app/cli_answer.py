"""``llama-chat -p`` / stdin / ``--summarize`` / ``--preset``: one answer streamed to stdout."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from llama_chat.chat.presets import PresetError, PresetLibrary, split_invocation
from llama_chat.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    document_from_bytes,
    load_document,
)
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings
from llama_chat.terminal_text import OutputError, for_terminal, write_out
from mlx_model import FinishReason
from mlx_model.files import read_stream

EXIT_INTERRUPTED = 130


def _fail(message: str) -> int:
    print(f"llama-chat: {for_terminal(message)}", file=sys.stderr)
    return 1


def one_shot(args: argparse.Namespace, settings: Settings, paths: AppPaths, piped: bool) -> int:
    """Answer once from the command line; returns the exit status."""
    document = None
    # A file to summarise and piped text pass the checks a file to attach passes: a regular
    # file (no link, pipe or device), within the size limit, UTF-8 text without NUL bytes.
    if args.summarize is not None:
        try:
            document = load_document(args.summarize).text
        except DocumentError as exc:
            return _fail(f"cannot read {args.summarize}: {exc.why}")
    elif piped:
        try:
            # Capped: `< /dev/zero` is refused after the limit instead of filling memory.
            data = read_stream(sys.stdin.buffer, "standard input", MAX_DOCUMENT_BYTES)
            document = document_from_bytes("standard input", data).text if data.strip() else None
        except OSError as exc:
            return _fail(f"cannot read standard input: {exc.strerror or exc}")
        except DocumentError as exc:
            return _fail(f"cannot use standard input: {exc.why}")
        if document is not None and args.prompt is None:
            document, args.prompt = None, document
    if args.preset is not None:
        if args.summarize is not None:
            return _fail("--preset works on text from standard input or -p, not with --summarize")
        try:
            args.prompt, settings = _apply_preset(args, settings, paths, document)
        except PresetError as exc:
            return _fail(str(exc))
        document = None
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
    try:
        return _answer(args, settings, loaded.model, loaded.tokenizer, document)
    except OutputError as exc:  # /dev/full, a full disk, a closed stdout: one line, no answer
        return _fail(str(exc))


def _apply_preset(
    args: argparse.Namespace, settings: Settings, paths: AppPaths, document: str | None
) -> tuple[str, Settings]:
    """The message a preset makes of stdin (or of -p's text), and the settings it asks for."""
    library = PresetLibrary.load(paths.presets_file)
    for warning in library.warnings:
        print(f"llama-chat: presets: {for_terminal(warning)}", file=sys.stderr)
    name, arg = split_invocation(args.preset)
    preset = library.get(name)
    text = document if document is not None else (args.prompt or "")
    message = preset.apply(text, arg)
    changes = {}
    if preset.temperature is not None and args.temperature is None:
        changes["temperature"] = preset.temperature
    if preset.system_prompt is not None and args.system is None:
        changes["system_prompt"] = preset.system_prompt
    return message, replace(settings, **changes)


def _answer(args, settings: Settings, model, tokenizer, document: str | None) -> int:
    from llama_chat.chat.conversation import GenerationSettings
    from llama_chat.chat.summarize import SummaryError
    from llama_chat.events import (
        ContextTrimmed,
        SummaryProgress,
        TextDelta,
        ToolCallRequested,
        TurnFinished,
    )

    generation = GenerationSettings.from_settings(settings)
    cancel = threading.Event()
    out = _Output(hold_tool_calls=args.tools or args.allow_tools)

    def emit(event) -> None:
        if isinstance(event, TextDelta):
            out.write(event.text)
        elif isinstance(event, ToolCallRequested):
            out.drop_held()
            print(
                for_terminal(f"[tool] {event.call.name}({event.call.arguments})"), file=sys.stderr
            )
        elif isinstance(event, SummaryProgress):
            print(f"[{event.stage} {event.done}/{event.total}]", file=sys.stderr)
        elif isinstance(event, ContextTrimmed):
            print(f"[dropped {event.dropped_messages} old messages to fit]", file=sys.stderr)
        elif isinstance(event, TurnFinished):
            out.flush()

    try:
        with _ctrl_c_cancels(cancel):
            finished = _run(args, settings, model, tokenizer, document, generation, emit, cancel)
    except SummaryError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:  # a second Ctrl-C, where the first did not end it
        finished = None
    if finished is None or finished.finish_reason == FinishReason.CANCELLED:
        out.flush()
        write_out("\n")
        print("llama-chat: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    write_out("" if out.ended_with_newline else "\n")
    if args.verbose:
        s = finished.stats
        print(
            f"[{finished.finish_reason}] prompt {s.prompt_tokens} tok ({s.cached_tokens} cached) "
            f"at {s.prompt_tps:.1f} tok/s, first token {s.ttft_s:.2f}s, "
            f"{s.generation_tokens} tok at {s.generation_tps:.1f} tok/s, "
            f"peak memory {s.peak_memory_gb:.2f} GB",
            file=sys.stderr,
        )
    if finished.finish_reason == FinishReason.ERROR:
        return _fail(finished.error or "generation failed")
    return 0


@contextmanager
def _ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """Ctrl-C sets ``cancel`` for the block: the answer ends at its next step, and what was
    written stays. A second Ctrl-C raises KeyboardInterrupt, for a step that does not look.

    The answer is ended through ``cancel`` rather than by an exception raised wherever the
    main thread happens to be: that could land inside the engine's own cleanup (a cache being
    trimmed, a queued step being awaited), and such a stop is not always taken.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return

    def on_ctrl_c(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run(args, settings: Settings, model, tokenizer, document, generation, emit, cancel):
    """The answer itself: a long document summarised in parts, or one message."""
    from llama_chat.chat.conversation import Conversation
    from llama_chat.chat.summarize import DOCUMENT_PROMPT, count_tokens, summarize
    from llama_chat.documents import document_fits
    from llama_chat.tools import default_registry

    if document is not None and (
        args.summarize is not None
        or not document_fits(
            count_tokens(
                tokenizer, DOCUMENT_PROMPT.format(text=document, instruction=args.prompt or "")
            ),
            settings.context_limit,
            settings.max_tokens,
        )
    ):
        if args.summarize is None:
            print("[document longer than the context: summarising it in parts]", file=sys.stderr)
        return summarize(
            model,
            tokenizer,
            document,
            instruction=args.prompt or "Write a concise summary of the whole document.",
            system_prompt=settings.system_prompt,
            settings=generation,
            emit=emit,
            cancel=cancel,
        )
    text = args.prompt
    if document is not None:
        text = DOCUMENT_PROMPT.format(text=document.strip(), instruction=args.prompt)
    tools = None
    if args.tools or args.allow_tools:
        tools = default_registry([Path(p).expanduser() for p in settings.allowed_folders])
    conversation = Conversation(
        model, tokenizer, system_prompt=settings.system_prompt, settings=generation, tools=tools
    )
    conversation.add_user(text)
    return conversation.respond(emit, cancel=cancel, approve=_approver(args.allow_tools))


def _approver(allow_all: bool):
    def approve(call) -> bool:
        if allow_all:
            return True
        try:
            with open("/dev/tty", "r+", encoding="utf-8") as tty:
                tty.write(for_terminal(f"Run tool {call.name} with {call.arguments}? [y/N] "))
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
        write_out("")

    def _emit(self, text: str) -> None:
        if text:
            write_out(for_terminal(text))
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
