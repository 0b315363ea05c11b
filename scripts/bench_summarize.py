"""Time the map step of a summary: parts one at a time vs batched, bf16 and 4-bit weights.

Runs on SmolLM2-135M-Instruct (trained weights; the test checkpoint) or any bf16 checkpoint
whose tokenizer.json speaks ChatML. The document is cut into parts as the summariser cuts it,
and each part gets the map prompt in a chat turn after a shared system prompt.
"one at a time" is the ordinary generator with one shared cache (the prefix stays cached
between parts, as in a chat); "batch B" runs B parts per batch with ``batch_generate``. Greedy
decoding, so the two must give the same tokens (the table says how many parts agree; a part
that differs did so at a near-tie: see tests/test_batch.py).

Columns: wall seconds; the speed-up over one at a time; decode tokens per forward (rows
computed per decode step) and generated tokens per weight read (each forward reads every
weight once, so a batch of B rows gets up to B tokens per read).

    python scripts/bench_summarize.py [--model BF16_DIR] [--parts 8] [--max-tokens 32]
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


def bench_weights(label: str, path: Path, args: argparse.Namespace) -> list[tuple]:
    model = mlx_model.load_model(path)
    tokenizer = ChatMLTokenizer(path, list(model.config.eos_token_ids))
    text = document(args.parts, args.part_tokens, tokenizer)
    prompts = map_prompts(tokenizer, text, args.part_tokens)
    # One short warm-up run: the first call pays for set-up, not the method.
    generate_all(model, tokenizer, prompts[0][:32], max_tokens=2)
    base_s, reference, base_tokens = one_at_a_time(model, tokenizer, prompts, args.max_tokens)
    rows = [(label, "one at a time", len(prompts), base_s, 1.0, 1.0, 1.0, len(prompts))]
    for size in args.batch:
        wall, outputs, stats = batched(model, tokenizer, prompts, args.max_tokens, size)
        # Each batch's first tokens come from its prefill, every later one from a decode step.
        reads = len(stats.row_steps) + len(range(0, len(prompts), size))
        rows_per_step = sum(stats.row_steps) / max(len(stats.row_steps), 1)
        same = sum(a == b for a, b in zip(reference, outputs, strict=True))
        rows.append(
            (
                label,
                f"batch {size}",
                len(prompts),
                wall,
                base_s / wall,
                rows_per_step,
                stats.generated_tokens / max(reads, 1),
                same,
            )
        )
    print(f"  {label}: {len(prompts)} parts, {base_tokens} tokens generated", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="bf16 checkpoint (default: SmolLM2-135M)")
    parser.add_argument("--parts", type=int, default=8, help="parts in the document")
    parser.add_argument("--part-tokens", type=int, default=160, help="tokens per part")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens per part summary")
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--no-4bit", action="store_true", help="skip the 4-bit conversion")
    args = parser.parse_args()

    source = args.model or default_checkpoint()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = [("bf16", source)]
        if not args.no_4bit:
            four = Path(tmp) / "4bit"
            convert(str(source), str(four), 4, 64, 8, list(range(1000, 1064)))
            weights.append(("4-bit", four))
        for label, path in weights:
            rows += bench_weights(label, path, args)
            mx.clear_cache()
    print(
        f"\n{'weights':8} {'map step':14} {'parts':>5} {'wall s':>8} {'speed-up':>8} "
        f"{'tok/fwd':>8} {'tok/read':>8} {'same':>5}"
    )
    for label, method, parts, wall, ratio, per_fwd, per_read, same in rows:
        print(
            f"{label:8} {method:14} {parts:5d} {wall:8.1f} {ratio:7.2f}x {per_fwd:8.2f} "
            f"{per_read:8.2f} {same:3d}/{parts}"
        )
    return 0


def default_checkpoint() -> Path:
    from mlx_model.testing import smollm2_checkpoint

    try:
        return smollm2_checkpoint()
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}; or pass --model BF16_DIR") from None


if __name__ == "__main__":
    raise SystemExit(main())
