"""A long chat that outgrows its context window: tokens prefilled per turn, old policy vs new.

    python scripts/bench_overflow.py                       # 60 turns, 2k window, tiny model
    python scripts/bench_overflow.py --context 8192 --turns 60 --user-words 120

The same scripted user turns run twice through the real Conversation on a tiny random
checkpoint with the real Llama 3 tokenizer (greedy answers of --answer-tokens tokens):
- "old": the window starts at the first user turn that fits, moved one turn at a time, so once
  the chat overflows every turn re-reads the whole window (the cache's prefix no longer starts
  the prompt);
- "new": the app's policy, the window start moving in blocks (--blocks: shares of the context).
Per turn it prints the tokens prefilled and the tokens the turn added to the chat (the user
message and the answer before it, headers included); the summary gives the ratio of their sums,
and the ratio to what an unbounded window would prefill (the new user turn only).
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
    ContextOverflowError,
    Conversation,
    GenerationSettings,
)
from llama_chat.resources import asset_path  # noqa: E402
from mlx_model.testing import make_tiny_checkpoint  # noqa: E402

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


def user_turns(count: int, words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        f"Turn {i}: " + " ".join(rng.choices(WORDS, k=rng.randint(words // 2, words)))
        for i in range(count)
    ]


def run(cls, model, tokenizer, settings, turns: list[str]) -> list[dict]:
    chat = cls(model, tokenizer, system_prompt="You are terse.", settings=settings,
               date_string="1 Jan 2026")  # fmt: skip
    rows = []
    previous = 0  # the last prompt's length, as an unbounded window would have it
    for text in turns:
        before_user = len(chat.encode(0, add_generation_prompt=False)) if chat.messages else 0
        chat.add_user(text)
        whole = len(chat.encode(0))
        started = time.perf_counter()
        stats = chat.respond(lambda e: None).stats
        rows.append(
            {
                "prefilled": stats.prompt_tokens - stats.cached_tokens,
                "added": whole - previous,
                "user_turn": whole - before_user,
                "window_start": chat.window_start,
                "seconds": time.perf_counter() - started,
            }
        )
        previous = whole
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--answer-tokens", type=int, default=64)
    parser.add_argument("--user-words", type=int, default=60)
    parser.add_argument(
        "--blocks",
        default="0.25",
        help="comma-separated shares of the context the new policy drops at once (default 0.25)",
    )
    parser.add_argument("--skip-old", action="store_true", help="run only the new policy")
    parser.add_argument("--model", type=Path, help="checkpoint directory (default: tiny random)")
    args = parser.parse_args()
    turns = user_turns(args.turns, args.user_words)
    settings = GenerationSettings(
        sampling=mlx_model.SamplingParams(temperature=0.0),
        max_tokens=args.answer_tokens,
        context_limit=args.context,
        prompt_lookup=False,
    )
    policies = [] if args.skip_old else [("old", OldPolicyConversation, settings)]
    for share in (float(b) for b in args.blocks.split(",")):
        policies.append((f"new {share:g}", Conversation, replace(settings, overflow_block=share)))
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or make_tiny_checkpoint(
            Path(tmp) / "tiny", asset_path("tokenizer.model"), quant_bits=4
        )
        model, tokenizer = mlx_model.load(model_dir)
        results = {}
        for name, cls, policy_settings in policies:
            results[name] = run(cls, model, tokenizer, policy_settings, turns)
            print(f"# {name} done", file=sys.stderr, flush=True)
    print(f"# {args.turns} turns, context {args.context}, answers {args.answer_tokens} tokens")
    names = list(results)
    print("| turn | " + " | ".join(f"{n}: prefilled" for n in names) + " | added to the chat |")
    print("|---:|" + "---:|" * (len(names) + 1))
    for i in range(args.turns):
        cells = " | ".join(str(results[n][i]["prefilled"]) for n in names)
        print(f"| {i} | {cells} | {results[names[-1]][i]['added']} |")
    print()
    print("| policy | prefilled | added | prefilled / added | prefilled / unbounded | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rows in results.items():
        prefilled = sum(r["prefilled"] for r in rows)
        added = sum(r["added"] for r in rows)
        unbounded = sum(r["user_turn"] for r in rows)
        seconds = sum(r["seconds"] for r in rows)
        print(
            f"| {name} | {prefilled} | {added} | {prefilled / added:.2f} | "
            f"{prefilled / unbounded:.2f} | {seconds:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
