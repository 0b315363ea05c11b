"""Decode speed at long context, ours vs mlx-lm: full-precision and 8-bit K/V, interleaved.

    python scripts/bench_long_context.py                          # 3B shape, 4-bit, 2k/8k/32k
    python scripts/bench_long_context.py --shape tiny --lengths 512,2048 --gen-tokens 16
    python scripts/bench_long_context.py --shape 3b-2layers --gen-tokens 8 --repeats 3  # a CPU
    python scripts/bench_long_context.py --shape tiny --lengths 512 --prefill  # the fill's check
    python scripts/bench_long_context.py --model DIR --lengths 2048,8192

Both engines load the same checkpoint and run at the same activation dtype (ours picks it per
device; mlx-lm's parameters are cast to it). For each K/V precision and length, both caches are
filled to the length with the same random K/V, each through its own cache type's
update_and_fetch (ours mlx_model.kv_cache.KVCache; mlx-lm's KVCache or QuantizedKVCache, so
8-bit K/V are quantized by each cache's own path into the layout decode reads) rather than by
prefilling: a 32k prefill of the 3B's layers takes far longer than the decode measured after
it on a CPU, and decode cost depends on the cache's length and layout, not on what the keys
say. --prefill prefills the same random prompt through each model instead (on the tiny shape at
512 tokens both ways decode at the same speed, within the rounds' spread). After either, each
engine's logits for one more token must be finite. Then --repeats rounds decode --gen-tokens
greedy tokens with each engine in turn (the order alternating), the caches trimmed back to the
length after each. Printed: median tok/s and (lowest-highest) per engine, and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402
from bench import cache_dir_of, checkpoint_for, parse_quants, summary  # noqa: E402
from make_tiny_model import DEFAULT_TOKENIZER, SHAPES  # noqa: E402

import mlx_model  # noqa: E402
from mlx_model import generate  # noqa: E402
from mlx_model.kv_cache import KV_GROUP_SIZE  # noqa: E402

WARMUP = 2


def fill(ours_model, ours_cache, theirs_cache, length: int, dtype: mx.Dtype) -> None:
    cfg = ours_model.config
    chunk = 1024
    for start in range(0, length, chunk):
        n = min(chunk, length - start)
        for i in range(cfg.num_hidden_layers):
            shape = (1, cfg.num_key_value_heads, n, cfg.head_dim)
            k = mx.random.normal(shape, key=mx.random.key(2 * i + start)).astype(dtype)
            v = mx.random.normal(shape, key=mx.random.key(2 * i + 1 + start)).astype(dtype)
            ours_cache.update_and_fetch(i, k, v)
            theirs_cache[i].update_and_fetch(k, v)
        ours_cache.commit([1] * n)
        mx.eval(ours_cache.state(), [c.state for c in theirs_cache])


def prefill(ours_model, theirs_model, ours_cache, theirs_cache, length: int) -> None:
    """The old way: the same random prompt of ``length`` tokens through each model."""
    ids = np.random.default_rng(0).integers(0, ours_model.config.vocab_size, length).tolist()
    mx.eval(generate.prefill(ours_model, ours_cache, ids))
    for start in range(0, length, generate.PREFILL_STEP):
        chunk = mx.array(ids[start : start + generate.PREFILL_STEP], dtype=mx.int32)
        theirs_model(chunk[None], cache=theirs_cache)
        mx.eval([c.state for c in theirs_cache])


def check_next_logits(ours_model, theirs_model, ours_cache, theirs_cache, length: int) -> None:
    """Both engines' logits for one more token are finite (then the caches are trimmed back):
    a fill the models could not read would show here, not as a plausible speed."""
    token = mx.array([[1]], dtype=mx.int32)
    ours = ours_model.last_logits(token, ours_cache)
    theirs = theirs_model(token, cache=theirs_cache)[:, -1, :]
    for name, logits in (("ours", ours), ("mlx-lm", theirs)):
        if not mx.all(mx.isfinite(logits)).item():
            raise SystemExit(f"{name}: the next token's logits at {length} tokens are not finite")
    for c in theirs_cache:
        c.trim(c.offset - length)


def bench_length(
    ours_model, theirs_model, kv_bits, length, gen, repeats, *, by_prefill: bool = False
) -> dict[str, list]:
    from mlx_lm.models.cache import KVCache, QuantizedKVCache

    dtype = ours_model.compute_dtype
    layers = ours_model.config.num_hidden_layers
    ours_cache = ours_model.make_cache(kv_bits=kv_bits)
    theirs_cache = [
        KVCache() if kv_bits is None else QuantizedKVCache(group_size=KV_GROUP_SIZE, bits=kv_bits)
        for _ in range(layers)
    ]
    if by_prefill:
        prefill(ours_model, theirs_model, ours_cache, theirs_cache, length)
    else:
        fill(ours_model, ours_cache, theirs_cache, length, dtype)
    check_next_logits(ours_model, theirs_model, ours_cache, theirs_cache, length)

    def ours_step(y: mx.array) -> mx.array:
        out = mx.argmax(ours_model.last_logits(y[None], ours_cache), axis=-1)
        ours_cache.commit([int(out.item())])  # item(): one sync per token, like theirs
        return out

    def theirs_step(y: mx.array) -> mx.array:
        out = mx.argmax(theirs_model(y[None], cache=theirs_cache)[:, -1, :], axis=-1)
        mx.eval(out)
        return out

    def ours_trim() -> None:
        ours_cache.trim_to(length)

    def theirs_trim() -> None:
        for c in theirs_cache:
            c.trim(c.offset - length)

    def decode(step: Callable[[mx.array], mx.array], trim: Callable[[], None], n: int) -> float:
        y = mx.array([1], dtype=mx.int32)
        started = time.perf_counter()
        for _ in range(n):
            y = step(y)
        seconds = time.perf_counter() - started
        trim()
        return n / seconds

    engines = {"ours": (ours_step, ours_trim), "mlx-lm": (theirs_step, theirs_trim)}
    for step, trim in engines.values():
        decode(step, trim, WARMUP)
    speeds: dict[str, list] = {name: [] for name in engines}
    for round_ in range(repeats):
        order = list(engines) if round_ % 2 == 0 else list(reversed(engines))
        for name in order:
            speeds[name].append(decode(*engines[name], gen))
    return speeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="3b")
    parser.add_argument("--quant", type=parse_quants, default=["4bit"], help="one level")
    parser.add_argument("--model", type=Path, default=None, help="a real checkpoint instead")
    parser.add_argument("--lengths", default="2048,8192,32768", help="comma-separated")
    parser.add_argument("--kv", default="full,8bit", help="K/V precisions: full, 8bit")
    parser.add_argument(
        "--dtype",
        choices=("auto", "bfloat16", "float32"),
        default="auto",
        help="activations (and full-precision K/V) of both engines; auto: ours' choice",
    )
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--prefill",
        action="store_true",
        help="prefill a random prompt through each model instead of filling the caches",
    )
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    args = parser.parse_args(argv)
    from mlx_lm.utils import load_model

    quant = args.quant[0]
    path = args.model or checkpoint_for(cache_dir_of(args), args.shape, quant, args.tokenizer)
    dtype = None if args.dtype == "auto" else getattr(mx, args.dtype)
    ours_model = mlx_model.load_model(path, dtype=dtype)
    theirs_model, _ = load_model(path)
    theirs_model.set_dtype(ours_model.compute_dtype)
    activations = str(ours_model.compute_dtype).removeprefix("mlx.core.")
    print(
        f"# {path}, {mx.default_device()}, activations {activations} for both, "
        f"{args.gen_tokens} tokens x {args.repeats} interleaved rounds, caches "
        + ("prefilled" if args.prefill else "filled"),
        file=sys.stderr,
    )
    print("| K/V | context | ours tok/s | mlx-lm tok/s | ours / mlx-lm |")
    print("|---|---:|---:|---:|---:|")
    for kv in args.kv.split(","):
        kv_bits = {"full": None, "8bit": 8}[kv.strip()]
        for length in (int(n) for n in args.lengths.split(",")):
            speeds = bench_length(
                ours_model,
                theirs_model,
                kv_bits,
                length,
                args.gen_tokens,
                args.repeats,
                by_prefill=args.prefill,
            )
            ours, theirs = speeds["ours"], speeds["mlx-lm"]
            ratio = np.median(ours) / np.median(theirs)
            label = "8-bit" if kv_bits else activations
            print(f"| {label} | {length} | {summary(ours)} | {summary(theirs)} | {ratio:.2f} |")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
