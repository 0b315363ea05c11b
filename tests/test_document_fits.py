"""One rule decides whether a document is read whole or summarised first: the CLI's documents
and the chat's attachments follow the same one (documents.document_fits)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from llama_chat.controller import ChatController
from llama_chat.documents import DOCUMENT_SHARE, document_fits
from llama_chat.events import DocumentAdded, DocumentProgress, JobFinished
from llama_chat.paths import AppPaths
from llama_chat.settings import Settings

CONTEXT, MAX_TOKENS = 2048, 16
ROOM = CONTEXT - MAX_TOKENS
SUMMARISING = "[document longer than the context: summarising it in parts]"


def document_of(tokenizer, tokens: int) -> str:
    """Paragraphs of plain words, about ``tokens`` long."""
    paragraph = " ".join(f"word{i % 50}" for i in range(40)) + ".\n\n"
    text = paragraph * (tokens // len(tokenizer.encode(paragraph)) + 1)
    return tokenizer.decode(tokenizer.encode(text)[:tokens])


def cli_summarises(checkpoint: Path, home: Path, document: str) -> bool:
    env = {**os.environ, "LLAMA_CHAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    args = ["--model", str(checkpoint), "-p", "Summarise", "--temp", "0"]
    args += ["--max-tokens", str(MAX_TOKENS), "--context-limit", str(CONTEXT)]
    result = subprocess.run(
        [sys.executable, "-m", "llama_chat.cli", *args],
        input=document,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    return SUMMARISING in result.stderr


def chat_summarises(checkpoint: Path, document: str) -> bool:
    """Attach ``document`` to a new chat; True if it was summarised (stopped at its first
    progress: whether it would be is all this asks)."""
    events: list = []
    controller = ChatController(
        Settings(max_tokens=MAX_TOKENS, context_limit=CONTEXT, temperature=0.0),
        AppPaths.from_env(),
        events.append,
        model_dir=checkpoint,
    )

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, DocumentProgress):
            controller.stop()

    controller.on_event = on_event
    try:
        assert controller.load_model().result(timeout=120)
        controller.attach_document("notes.txt", document, len(document)).result(timeout=300)
    finally:
        controller.close()
    assert any(isinstance(e, JobFinished) for e in events)
    summarised = any(isinstance(e, DocumentProgress) for e in events)
    assert summarised != any(isinstance(e, DocumentAdded) for e in events)
    return summarised


def test_the_rule_leaves_a_share_of_the_room_for_the_question():
    share = int(ROOM * DOCUMENT_SHARE)
    assert document_fits(share, CONTEXT, MAX_TOKENS)
    assert not document_fits(share + 1, CONTEXT, MAX_TOKENS)


def test_the_cli_and_the_chat_decide_alike(tiny_4bit, tokenizer, paths, tmp_path):
    # Between three quarters of the room and the room less 256 tokens the two differed: the
    # chat summarised what the CLI read whole.
    between = document_of(tokenizer, (int(ROOM * DOCUMENT_SHARE) + ROOM - 256) // 2)
    short = document_of(tokenizer, ROOM // 4)
    assert cli_summarises(tiny_4bit, tmp_path, between)
    assert chat_summarises(tiny_4bit, between)
    assert not cli_summarises(tiny_4bit, tmp_path, short)
    assert not chat_summarises(tiny_4bit, short)
