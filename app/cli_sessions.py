"""``llama-chat export`` and ``llama-chat import``: back up, move and restore saved chats.

llama-chat export                            the most recent chat as Markdown, to stdout
llama-chat export 12 --format json -o a.json chat 12, all its branches, as JSON
llama-chat export lisbon -o trip.md          the most recent chat whose title has "lisbon"
llama-chat import a.json                     add an exported chat as a new one
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from llama_chat.paths import AppPaths, atomic_write_text
from llama_chat.store.export import SessionImportError, export_json, export_markdown, import_json
from llama_chat.store.sessions import SessionInfo, SessionStore, SessionStoreError
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
    with store:
        return _export(store, args) if argv[0] == "export" else _import(store, Path(args.file))


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
    fmt = args.format or ("json" if (args.output or "").endswith(".json") else "md")
    if fmt == "json":
        text = json.dumps(export_json(store, session.id), indent=2, ensure_ascii=False) + "\n"
    else:
        text = export_markdown(store, session.id)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        atomic_write_text(Path(args.output), text)
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    print(f"Exported chat {session.id} ({session.title}) to {args.output}", file=sys.stderr)
    return 0


def _import(store: SessionStore, path: Path) -> int:
    try:
        data = json.loads(read_bytes(path, MAX_IMPORT_BYTES))  # never a pipe or a device
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _fail(f"{path} is not a JSON export of a chat: {exc}")
    try:
        session = import_json(store, data)  # one transaction: all of it or nothing
    except SessionImportError as exc:
        return _fail(f"{path}: {exc}")
    count = len(store.messages(session.id))
    print(f"Imported {path} as chat {session.id} ({session.title}, {count:,} messages)")
    return 0


def _fail(message: str) -> int:
    print(f"llama-chat: {message}", file=sys.stderr)
    return 1
