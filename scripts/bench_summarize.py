"""Time the map step of a summary (parts one at a time vs batched) and prompt lookup (plain vs
lookup on a summary, a rewrite and a chat prompt), with bf16 and 4-bit weights.

Runs on SmolLM2-135M-Instruct (trained weights; the test checkpoint) or any bf16 checkpoint
whose tokenizer.json speaks ChatML. The document is cut into parts as the summariser cuts it,
and each part gets the map prompt in a chat turn after a shared system prompt. "one at a time"
is the ordinary generator with one shared cache (the prefix stays cached between parts);
"batch B" runs B parts per batch with ``batch_generate``. Greedy throughout, so every method
must give the plain run's tokens ("same"; a difference can only come from a near-tie, see
tests/test_batch.py).

Columns: wall seconds (prefill included); speed-up over the plain run; rows/fwd, the answer
rows each decode forward computes; tok/read, generated tokens kept per forward pass, i.e. per
read of the weights (a batch of B rows gets up to B, lookup its accepted drafts plus one).

    python scripts/bench_summarize.py [--model BF16_DIR] [--parts 8] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mlx.core as mx  # noqa: E402

import mlx_model  # noqa: E402
from llama_chat.chat.summarize import MAP_PROMPT, split_for_context  # noqa: E402
from mlx_model.batch import BatchStats, batch_generate  # noqa: E402
from mlx_model.generate import generate_all  # noqa: E402
from mlx_model.quantize import convert  # noqa: E402
from mlx_model.tokenizer import StreamingDetokenizer, bytes_to_unicode  # noqa: E402

SYSTEM = "You are a careful assistant who summarises documents for busy readers."
TOPICS = ("budget", "hiring plan", "launch date", "supplier contract", "safety review", "roadmap")


def document(parts: int, part_tokens: int, tokenizer: ChatMLTokenizer) -> str:
    """Plain prose of about ``parts`` x ``part_tokens`` tokens, one topic per paragraph."""
    paragraphs = []
    total = 0
    i = 0
    while total < parts * part_tokens:
        topic = TOPICS[i % len(TOPICS)]
        text = (
            f"Meeting {i + 1} discussed the {topic}. The team agreed that the {topic} needs "
            f"{i % 5 + 2} more weeks, that costs rose by {3 * i % 17 + 4} percent, and that Dana "
            f"will report on the {topic} again on day {i * 7 % 28 + 1}. "
        ) * 2
        paragraphs.append(text.strip())
        total += len(tokenizer.encode(text))
        i += 1
    return "\n\n".join(paragraphs)


class ChatMLTokenizer:
    """What the generator and the part splitter use of a Tokenizer, over a ChatML
    tokenizer.json read by the ``tokenizers`` package (ours reads Llama 3's only)."""

    def __init__(self, path: Path, eos_token_ids: list[int]):
        from tokenizers import Tokenizer as HFTokenizer

        self.hf = HFTokenizer.from_file(str(path / "tokenizer.json"))
        self.eos_token_ids = eos_token_ids
        self._bytes = {char: byte for byte, char in bytes_to_unicode().items()}

    def encode(self, text: str, bos: bool = False) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids)

    def detokenizer(self) -> StreamingDetokenizer:
        def token_bytes(token_id: int) -> bytes:
            piece = self.hf.id_to_token(token_id)
            return bytes(self._bytes[c] for c in piece) if piece[0] in self._bytes else b""

        return StreamingDetokenizer(token_bytes)

    def chat(self, user: str) -> list[int]:
        return self.encode(
            f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n"
        )


def map_prompts(tokenizer: ChatMLTokenizer, text: str, part_tokens: int) -> list[list[int]]:
    chunks = split_for_context(tokenizer, text, part_tokens)
    return [
        tokenizer.chat(MAP_PROMPT.format(index=i, total=len(chunks), text=chunk))
        for i, chunk in enumerate(chunks, start=1)
    ]


def one_at_a_time(model, tokenizer, prompts, max_tokens) -> tuple[float, list[list[int]], int]:
    cache = model.make_cache()
    outputs = []
    started = time.perf_counter()
    for prompt in prompts:
        tokens, _, _ = generate_all(model, tokenizer, prompt, cache=cache, max_tokens=max_tokens)
        outputs.append([t for t in tokens if t not in tokenizer.eos_token_ids])
    return time.perf_counter() - started, outputs, sum(len(o) for o in outputs)


def batched(
    model, tokenizer, prompts, max_tokens, size
) -> tuple[float, list[list[int]], BatchStats]:
    cache = model.make_cache()
    outputs: list[list[int]] = []
    total = BatchStats()
    started = time.perf_counter()
    for start in range(0, len(prompts), size):
        stats = BatchStats()
        rows = batch_generate(
            model,
            prompts[start : start + size],
            stop_ids=tokenizer.eos_token_ids,
            cache=cache,
            max_tokens=max_tokens,
            stats=stats,
        )
        outputs += [row.tokens for row in rows]
        total.generated_tokens += stats.generated_tokens
        total.row_steps += stats.row_steps
    return time.perf_counter() - started, outputs, total


@dataclass
class Row:
    weights: str
    task: str
    method: str
    wall_s: float
    speed_up: float
    rows_per_forward: float
    """Token positions each decode forward computes for the answer (batch rows)."""
    kept_per_read: float
    """Generated tokens kept per forward pass; each pass reads every weight once."""
    same: str
    """Answers equal to the plain one-at-a-time run (greedy)."""


HEADER = (
    f"{'weights':7} {'task':10} {'method':14} {'wall s':>7} {'speed-up':>8} {'rows/fwd':>8} "
    f"{'tok/read':>8} {'same':>5}"
)


def show(row: Row) -> None:
    print(
        f"{row.weights:7} {row.task:10} {row.method:14} {row.wall_s:7.1f} {row.speed_up:7.2f}x "
        f"{row.rows_per_forward:8.2f} {row.kept_per_read:8.2f} {row.same:>5}",
        flush=True,
    )


def bench_map_step(label: str, model, tokenizer, args: argparse.Namespace) -> None:
    text = document(args.parts, args.part_tokens, tokenizer)
    prompts = map_prompts(tokenizer, text, args.part_tokens)
    base_s, reference, _ = one_at_a_time(model, tokenizer, prompts, args.max_tokens)
    n = len(prompts)
    show(Row(label, f"map x{n}", "one at a time", base_s, 1.0, 1.0, 1.0, f"{n}/{n}"))
    for size in args.batch:
        wall, outputs, stats = batched(model, tokenizer, prompts, args.max_tokens, size)
        # Each batch's first tokens come from its prefill, every later one from a decode step.
        reads = len(stats.row_steps) + len(range(0, n, size))
        same = sum(a == b for a, b in zip(reference, outputs, strict=True))
        show(
            Row(
                label,
                f"map x{n}",
                f"batch {size}",
                wall,
                base_s / wall,
                sum(stats.row_steps) / max(len(stats.row_steps), 1),
                stats.generated_tokens / max(reads, 1),
                f"{same}/{n}",
            )
        )


def lookup_prompts(tokenizer: ChatMLTokenizer, part_tokens: int) -> dict[str, str]:
    excerpt = document(2, part_tokens, tokenizer)
    return {
        "summarise": f"Summarise this text in a few sentences:\n\n{excerpt}",
        "rewrite": f"Rewrite this text in plain English, keeping every fact:\n\n{excerpt}",
        "chat": "What are three good ways to learn a new programming language?",
    }


def bench_lookup(label: str, model, tokenizer, args: argparse.Namespace) -> None:
    for task, text in lookup_prompts(tokenizer, args.part_tokens).items():
        ids = tokenizer.chat(text)
        runs = {}
        for lookup in (False, True):
            started = time.perf_counter()
            tokens, _, final = generate_all(
                model, tokenizer, ids, max_tokens=args.lookup_tokens, prompt_lookup=lookup
            )
            runs[lookup] = (time.perf_counter() - started, tokens, final.stats)
        plain_s, plain, _ = runs[False]
        for lookup in (False, True):
            wall, tokens, stats = runs[lookup]
            show(
                Row(
                    label,
                    task,
                    "prompt lookup" if lookup else "plain",
                    wall,
                    plain_s / wall,
                    1.0,
                    len(tokens) / max(stats.forwards, 1),
                    "1/1" if tokens == plain else "0/1",
                )
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="bf16 checkpoint (default: SmolLM2-135M)")
    parser.add_argument("--parts", type=int, default=8, help="parts in the document")
    parser.add_argument("--part-tokens", type=int, default=160, help="tokens per part")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens per part summary")
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--no-4bit", action="store_true", help="skip the 4-bit conversion")
    parser.add_argument(
        "--lookup-tokens",
        type=int,
        default=64,
        help="answer length with and without prompt lookup (0: skip that part)",
    )
    args = parser.parse_args()

    source = args.model or default_checkpoint()
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        weights = [("bf16", source)]
        if not args.no_4bit:
            four = Path(tmp) / "4bit"
            convert(str(source), str(four), 4, 64, 8, list(range(1000, 1064)))
            weights.append(("4-bit", four))
        for label, path in weights:
            model = mlx_model.load_model(path)
            tokenizer = ChatMLTokenizer(path, list(model.config.eos_token_ids))
            # One short warm-up run: the first call pays for set-up, not the method.
            generate_all(model, tokenizer, tokenizer.chat("Hello"), max_tokens=2)
            bench_map_step(label, model, tokenizer, args)
            if args.lookup_tokens:
                bench_lookup(label, model, tokenizer, args)
            del model
            mx.clear_cache()
    return 0


def default_checkpoint() -> Path:
    from mlx_model.testing import smollm2_checkpoint

    try:
        return smollm2_checkpoint()
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}; or pass --model BF16_DIR") from None


if __name__ == "__main__":
    raise SystemExit(main())
