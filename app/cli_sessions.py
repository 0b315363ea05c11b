"""``llama-chat export`` and ``llama-chat import``: back up, move and restore saved chats.

llama-chat export                            the most recent chat as Markdown, to stdout
llama-chat export 12 --format json -o a.json chat 12, all its branches, as JSON
llama-chat export lisbon -o trip.md          the most recent chat whose title has "lisbon"
llama-chat import a.json                     add an exported chat as a new one
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from llama_chat.paths import AppPaths
from llama_chat.store.errors import database_failure
from llama_chat.store.export import (
    SessionImportError,
    export_json,
    export_markdown,
    import_json,
    json_text,
)
from llama_chat.store.export_file import write_export_file
from llama_chat.store.records import damage_lines
from llama_chat.store.sessions import SessionInfo, SessionStore, SessionStoreError
from llama_chat.terminal_text import OutputError, for_terminal, write_out
from mlx_model.files import MiB, read_bytes

MAX_IMPORT_BYTES = 64 * MiB  # a chat of thousands of messages with documents is a few MiB

SUBCOMMANDS = ("export", "import")
"""First words that make the command line one of these, not a chat or a one-shot prompt."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not a usage dump
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(command: str) -> argparse.ArgumentParser:
    if command == "export":
        parser = _Parser(prog="llama-chat export", description="Write a saved chat to a file.")
        parser.add_argument("session", nargs="?", help="chat id or words of its title (newest)")
        parser.add_argument("--format", choices=("md", "json"), help="default: from -o, else md")
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")
        return parser
    parser = _Parser(prog="llama-chat import", description="Add an exported JSON chat.")
    parser.add_argument("file", help="a .json file written by llama-chat export")
    return parser


def main(argv: list[str], paths: AppPaths) -> int:
    """Run ``export`` or ``import`` (``argv[0]``); returns the exit status."""
    args = build_parser(argv[0]).parse_args(argv[1:])
    try:
        store = SessionStore.open(paths.ensure().sessions_db)
    except SessionStoreError as exc:
        return _fail(str(exc))
    if store.recovered_from is not None:
        if ".foreign-" in store.recovered_from.name:
            why, kept = "is not a llama-chat database", "a new one was started"
        else:
            why, kept = "is damaged", "the chats that could be read were copied into a new one"
        moved = f"{store.path} {why}; it was moved to {store.recovered_from} and {kept}"
        print(for_terminal(f"llama-chat: {moved}"), file=sys.stderr)
    with store:
        try:
            if argv[0] == "export":
                return _export(store, args)
            return _import(store, Path(args.file))
        except sqlite3.Error as exc:  # locked past the busy timeout, a full disk, ...
            doing = "exporting the chat" if argv[0] == "export" else "importing the chat"
            return _fail(str(database_failure(store.path, exc, doing)))


def find_session(store: SessionStore, wanted: str | None) -> SessionInfo | None:
    """The chat with id ``wanted``, else the newest whose title contains it (any case);
    the newest chat of all when ``wanted`` is None."""
    sessions = store.list_sessions(limit=-1)
    if wanted is None:
        return sessions[0] if sessions else None
    by_id = [s for s in sessions if wanted.isdigit() and s.id == int(wanted)]
    by_title = [s for s in sessions if wanted.casefold() in s.title.casefold()]
    return (by_id or by_title or [None])[0]


def _export(store: SessionStore, args: argparse.Namespace) -> int:
    session = find_session(store, args.session)
    if session is None:
        if args.session is None:
            return _fail("there are no saved chats to export")
        return _fail(f"no saved chat has the id or a title with {args.session!r}")
    for line in damage_lines(session, store.messages(session.id)):
        print(
            for_terminal(f"llama-chat: damaged row read as far as possible: {line}"),
            file=sys.stderr,
        )
    fmt = args.format or ("json" if (args.output or "").endswith(".json") else "md")
    if fmt == "json":
        text = json_text(export_json(store, session.id))
    else:
        text = export_markdown(store, session.id)
    if args.output is None:
        # JSON has its control characters escaped already; Markdown is the chat's own text.
        try:
            write_out(text if fmt == "json" else for_terminal(text))
        except OutputError as exc:
            return _fail(str(exc))
        return 0
    try:
        write_export_file(Path(args.output), text)
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    done = f"Exported chat {session.id} ({session.title}) to {args.output}"
    print(for_terminal(done), file=sys.stderr)
    return 0


def read_import_file(path: Path) -> str:
    """The text of a file to import (OSError, UnicodeDecodeError): the one place it is read,
    through the checked reader (never a pipe or a device, and capped)."""
    return read_bytes(path, MAX_IMPORT_BYTES).decode("utf-8")


def _import(store: SessionStore, path: Path) -> int:
    try:
        data = json.loads(read_import_file(path))
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        return _fail(f"{path} is not a JSON export of a chat: it is not UTF-8 text")
    except RecursionError:
        return _fail(f"{path} is not a JSON export of a chat: it is nested too deeply")
    except ValueError as exc:  # a JSON syntax error, or an integer of thousands of digits
        problem = _first_line(exc)
        if "integer string conversion" in problem:
            problem = "it holds a number thousands of digits long"
        return _fail(f"{path} is not a JSON export of a chat: {problem}")
    try:
        session = import_json(store, data)  # one transaction: all of it or nothing
    except SessionImportError as exc:
        return _fail(f"{path}: {exc}")
    count = len(store.messages(session.id))
    print(
        for_terminal(f"Imported {path} as chat {session.id} ({session.title}, {count:,} messages)")
    )
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _fail(message: str) -> int:
    print(f"llama-chat: {for_terminal(message)}", file=sys.stderr)
    return 1
