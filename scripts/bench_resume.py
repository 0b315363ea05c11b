"""Resuming a long chat from its saved KV cache vs prefilling it again, side by side.

    python scripts/bench_resume.py                     # tiny random checkpoint, 4k-token chat
    python scripts/bench_resume.py --model DIR --tokens 4096

Builds a chat of about --tokens tokens, saves its KV cache the way the app does when a chat is
left, then times the first token of the next turn two ways in one run: loading the saved cache
and prefilling only the new turn, and prefilling the whole history from nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mlx.core as mx  # noqa: E402

import mlx_model  # noqa: E402
from llama_chat.chat.conversation import ChatMessage, Conversation, GenerationSettings  # noqa: E402
from llama_chat.resources import asset_path  # noqa: E402
from llama_chat.store.kv_files import CacheStore  # noqa: E402
from mlx_model.testing import make_tiny_checkpoint  # noqa: E402

FILLER = (
    "Here is some more of the draft we are working on together; it talks about plans, "
    "numbers, people and places, so that the history grows the way a real chat does. "
)


def build_history(tokenizer: mlx_model.Tokenizer, target_tokens: int) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    total = 0
    turn = 0
    while total < target_tokens:
        text = f"Turn {turn}. " + FILLER * 6
        messages += [ChatMessage("user", text), ChatMessage("assistant", "Noted. " + FILLER * 2)]
        total += len(tokenizer.encode(text)) + len(tokenizer.encode(FILLER * 2)) + 10
        turn += 1
    return messages


def first_token_seconds(conversation: Conversation) -> tuple[float, int]:
    conversation.add_user("Now summarise everything in one line.")
    started = time.perf_counter()
    ids = conversation.encode()
    for event in mlx_model.stream_generate(
        conversation.model, conversation.tokenizer, ids, cache=conversation.cache, max_tokens=1
    ):
        return time.perf_counter() - started, event.stats.cached_tokens
    raise RuntimeError("no token generated")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="checkpoint directory (default: tiny random)")
    parser.add_argument("--tokens", type=int, default=4096)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model_dir = args.model or make_tiny_checkpoint(
            tmp_path / "tiny", asset_path("tokenizer.model"), quant_bits=4
        )
        model, tokenizer = mlx_model.load(model_dir)
        history = build_history(tokenizer, args.tokens)
        settings = GenerationSettings(max_tokens=16, context_limit=args.tokens * 2)

        def conversation(cache=None) -> Conversation:
            return Conversation(
                model,
                tokenizer,
                settings=settings,
                date_string="1 Jan 2026",
                messages=list(history),
                cache=cache,
            )

        warm = conversation()
        ids = warm.encode(add_generation_prompt=False)
        mlx_model.prefill(model, warm.cache, ids)
        mx.eval(warm.cache.state())
        store = CacheStore(tmp_path / "kv", budget_bytes=10**11)
        store.save(1, {"model_id": "bench", "quant": "q"}, warm.cache)
        del warm

        started = time.perf_counter()
        restored = store.load_best(1, "bench", "q", ids, model)
        load_s = time.perf_counter() - started
        assert restored is not None, "the saved cache was not accepted"
        resumed_s, cached = first_token_seconds(conversation(restored))
        fresh_s, _ = first_token_seconds(conversation())

    print(f"chat history: {len(ids)} tokens; saved cache reused for {cached} of them")
    print("| path | first token (s) |")
    print("|---|---|")
    print(
        f"| resume from saved cache (load {load_s:.3f} s + new turn) | {load_s + resumed_s:.3f} |"
    )
    print(f"| prefill the whole history again | {fresh_s:.3f} |")
    print(f"speed-up: {fresh_s / (load_s + resumed_s):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
