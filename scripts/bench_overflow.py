"""A long chat that outgrows its context window: tokens prefilled per turn, old policy vs new.

    python scripts/bench_overflow.py                       # 60 turns, 2k window, tiny model
    python scripts/bench_overflow.py --context 8192 --turns 60 --user-words 120
    python scripts/bench_overflow.py --simulate --context 8192 --answer-tokens 256 --blocks 0.25,0.5
    python scripts/bench_overflow.py --memory                # and with rolling memory on

The same scripted user turns run twice through the real Conversation on a tiny random
checkpoint with the real Llama 3 tokenizer (greedy answers of --answer-tokens tokens):
- "old": the window starts at the first user turn that fits, moved one turn at a time, so once
  the chat overflows every turn re-reads the whole window (the cache's prefix no longer starts
  the prompt);
- "new": the app's policy, the window start moving in blocks (--blocks: shares of the context);
- "memory" (--memory): the app's policy with rolling memory on, each drop summarising the dropped
  turns into a note read after the system prompt; "note read" is what writing the note prefilled
  (its own prompt: the note so far and the dropped turns), on top of the chat's prefill.
Per turn it prints the tokens prefilled and the tokens the turn added to the chat (the user
message and the answer before it, headers included); the summary gives the ratio of their sums,
and the ratio to what an unbounded window would prefill (the new user turn only). With
--simulate no model runs: answers are scripted words and the prefill is counted from the same
prefix bookkeeping the generator does (the cache keeps what it shares with the prompt); a note
is then scripted words of the note's full length, and "note read" the tokens of its document.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mlx_model  # noqa: E402
from llama_chat.chat.conversation import (  # noqa: E402
    ChatMessage,
    ContextOverflowError,
    Conversation,
    GenerationSettings,
)
from llama_chat.chat.memory import RollingMemory  # noqa: E402
from llama_chat.resources import asset_path  # noqa: E402
from mlx_model.testing import make_tiny_checkpoint  # noqa: E402

TOKENIZER = asset_path("tokenizer.model")
WORDS = (
    "plan draft budget river meeting summary chapter figure invoice garden recipe travel "
    "report deadline review colour number letter station harbour market lesson"
).split()


class OldPolicyConversation(Conversation):
    """The policy before blocks: the earliest user turn from which the prompt fits."""

    def fit_prompt(self, cancel=None):
        budget = self.settings.context_limit - self.settings.max_tokens
        last_user = self.last_user_index()
        start = min(self.window_start, last_user)
        for first in range(start, last_user + 1):
            if first != start and self.messages[first].role != "user":
                continue
            ids = self.encode(first)
            if len(ids) <= budget:
                dropped, self.window_start = first - start, first
                return ids, dropped
        raise ContextOverflowError("the newest turn alone does not fit")


class ScriptedMemory(RollingMemory):
    """Rolling memory for --simulate: each note is scripted words of the note's full length,
    and what writing it would read is the tokens of the document it summarises."""

    read = 0  # tokens of the latest note's document, until the turn's row takes them

    def catch_up(self, conversation, emit, cancel) -> bool:
        end = conversation.window_start
        if end <= self.upto:
            return False
        read = len(conversation.tokenizer.encode(self._document(conversation, end)))
        self.note = " ".join(random.Random(end).choices(WORDS, k=self.note_tokens * 2 // 3))
        self.upto = end
        self.read = read
        return True


def user_turns(count: int, words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        f"Turn {i}: " + " ".join(rng.choices(WORDS, k=rng.randint(words // 2, words)))
        for i in range(count)
    ]


def run(cls, model, tokenizer, settings, turns: list[str], memory: bool = False) -> list[dict]:
    """Each turn answered by ``model``, or, when it is None, by a scripted answer of about
    max_tokens tokens while the cache is kept as the generator keeps it (see simulated_turn)."""
    cache = mlx_model.KVCache(0) if model is None else None
    chat = cls(model, tokenizer, system_prompt="You are terse.", settings=settings,
               date_string="1 Jan 2026", cache=cache)  # fmt: skip
    if memory:
        chat.memory = ScriptedMemory() if model is None else RollingMemory()
    rng = random.Random(1)
    rows = []
    previous = 0  # the last prompt's length, as an unbounded window would have it
    for text in turns:
        before_user = len(chat.encode(0, add_generation_prompt=False)) if chat.messages else 0
        chat.add_user(text)
        whole = len(chat.encode(0))
        started = time.perf_counter()
        note_read = 0
        if model is None:
            answer = " ".join(rng.choices(WORDS, k=settings.max_tokens * 2 // 3))
            prefilled = simulated_turn(chat, answer)
            if memory and chat.memory.read:
                note_read, chat.memory.read = chat.memory.read, 0
        else:
            stats = chat.respond(lambda e: None).stats
            prefilled = stats.prompt_tokens - stats.cached_tokens
            if memory and chat.memory.last_summary is not None:
                note_read = chat.memory.last_summary.stats.prompt_tokens
                chat.memory.last_summary = None
        rows.append(
            {
                "prefilled": prefilled,
                "note_read": note_read,
                "added": whole - previous,
                "user_turn": whole - before_user,
                "window_start": chat.window_start,
                "seconds": time.perf_counter() - started,
            }
        )
        previous = whole
    return rows


def simulated_turn(chat: Conversation, answer: str) -> int:
    """Tokens prefilled for this turn, counted as the generator counts them but without a
    model: the cache keeps its common prefix with the prompt, then holds prompt and answer."""
    ids, _ = chat.fit_prompt()
    if chat.memory is not None and chat.memory.catch_up(chat, lambda e: None, None):
        ids = chat.encode()
    keep = min(chat.cache.common_prefix(ids), len(ids) - 1)
    chat.cache.trim_to(keep)
    chat.cache.commit(ids[keep:])
    chat.cache.commit(chat.tokenizer.encode(answer))
    chat.messages.append(ChatMessage("assistant", answer))
    return len(ids) - keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--answer-tokens", type=int, default=64)
    parser.add_argument("--user-words", type=int, default=60)
    parser.add_argument(
        "--blocks",
        default="0.333",
        help="shares of the context the new policy drops at once, comma-separated (app: 1/3)",
    )
    parser.add_argument("--skip-old", action="store_true", help="run only the new policy")
    parser.add_argument(
        "--memory", action="store_true", help="also the app's policy with rolling memory on"
    )
    parser.add_argument("--model", type=Path, help="checkpoint directory (default: tiny random)")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="no model: scripted answers, the cache's prefix bookkeeping only (fast at 8k)",
    )
    args = parser.parse_args()
    turns = user_turns(args.turns, args.user_words)
    settings = GenerationSettings(
        sampling=mlx_model.SamplingParams(temperature=0.0),
        max_tokens=args.answer_tokens,
        context_limit=args.context,
        prompt_lookup=False,
    )
    policies = [] if args.skip_old else [("old", OldPolicyConversation, settings, False)]
    for share in (float(b) for b in args.blocks.split(",")):
        shared = replace(settings, overflow_block=share)
        policies.append((f"new {share:g}", Conversation, shared, False))
    if args.memory:
        policies.append(("memory 0.333", Conversation, settings, True))
    with tempfile.TemporaryDirectory() as tmp:
        if args.simulate:
            model, tokenizer = None, mlx_model.Tokenizer.from_tiktoken_file(TOKENIZER)
        else:
            tiny = Path(tmp) / "tiny"
            model, tokenizer = mlx_model.load(
                args.model or make_tiny_checkpoint(tiny, TOKENIZER, quant_bits=4)
            )
        results = {}
        for name, cls, policy_settings, memory in policies:
            results[name] = run(cls, model, tokenizer, policy_settings, turns, memory)
            print(f"# {name} done", file=sys.stderr, flush=True)
    print(f"# {args.turns} turns, context {args.context}, answers {args.answer_tokens} tokens")
    names = list(results)
    notes = "memory 0.333" in results
    header = [f"{n}: prefilled" for n in names] + ["memory: note read"] * notes
    print("| turn | " + " | ".join(header) + " | added to the chat |")
    print("|---:|" + "---:|" * (len(header) + 1))
    for i in range(args.turns):
        cells = [str(results[n][i]["prefilled"]) for n in names]
        if notes:
            cells.append(str(results["memory 0.333"][i]["note_read"]))
        print(f"| {i} | {' | '.join(cells)} | {results[names[-1]][i]['added']} |")
    print()
    print(
        "| policy | prefilled | note read | added | prefilled / added | (with notes) "
        "| prefilled / unbounded | seconds |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, rows in results.items():
        prefilled = sum(r["prefilled"] for r in rows)
        note_read = sum(r["note_read"] for r in rows)
        added = sum(r["added"] for r in rows)
        unbounded = sum(r["user_turn"] for r in rows)
        seconds = sum(r["seconds"] for r in rows)
        print(
            f"| {name} | {prefilled} | {note_read} | {added} | {prefilled / added:.2f} | "
            f"{(prefilled + note_read) / added:.2f} | {prefilled / unbounded:.2f} | "
            f"{seconds:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
