"""Our engine and mlx-lm side by side, in one process, on the same checkpoints.

    python scripts/bench.py                                # Llama 3.2 3B shapes, bf16/8-bit/4-bit
    python scripts/bench.py --shape tiny                   # a quick check that everything runs
    python scripts/bench.py --quant 4bit --prompt-tokens 512 --gen-tokens 64 --json-out r.json
    python scripts/bench.py --model DIR                    # a real checkpoint instead
    python scripts/bench.py --kv8-context 8192 --quant 4bit  # 8-bit K/V decode vs mlx-lm

By default the checkpoints are random weights with Llama 3.2 3B Instruct's exact shapes,
generated once into a cache directory: bf16 first, then quantized to 8 and 4 bit by our
converter. Random weights cost exactly what real ones do per token.

For each quantization, each engine in turn loads the checkpoint fresh (the other one freed
first), runs a short warm-up, then prefills the same random prompt and decodes greedily:
- prompt tok/s: prompt tokens / time to first token;
- decode tok/s: from per-token timestamps, the first token excluded (its time is prefill),
  taken the same way for both engines (our stream_generate events, mlx-lm's generate_step);
- time to first token;
- peak memory: mx.get_peak_memory() over the load and over the run (weights included);
- load time: weights only (config, safetensors, quantized layers), tokenizers excluded.
mlx-lm runs the checkpoint as it is (bf16 activations); ours picks activations per device
(float32 for quantized weights on a CPU). Our numbers include streaming detokenization,
which mlx-lm's generate_step does not do.

On a CPU-only machine, MLX's quantized matmul with bf16 activations (mlx-lm's path) runs about
9x slower than with float32 ones, near 0.3 GFLOP/s per core: a 256-token prompt on the 3B shape
then takes over an hour per quantization. There, use e.g. --prompt-tokens 16 --gen-tokens 8.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

import mlx_model  # noqa: E402
from mlx_model.kv_cache import KV_GROUP_SIZE  # noqa: E402
from mlx_model.quantize import convert  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tiny_model import (  # noqa: E402
    DEFAULT_TOKENIZER,
    SHAPES,
    make_checkpoint,
)

QUANTS = {"bf16": None, "8bit": 8, "4bit": 4}
# Enough to compile kernels and touch every weight once; on a CPU one 3B token can take 20 s.
WARMUP_PROMPT, WARMUP_GEN = 4, 2


@dataclass
class RunResult:
    engine: str
    quant: str
    prompt_tokens: int
    generated_tokens: int
    prompt_tps: float
    decode_tps: float
    ttft_s: float
    load_s: float
    load_peak_gb: float
    run_peak_gb: float
    activations: str


def cache_dir_of(args: argparse.Namespace) -> Path:
    return args.cache_dir or default_cache_dir()


def default_cache_dir() -> Path:
    import platformdirs

    return platformdirs.user_cache_path("llama-chat") / "bench"


def checkpoint_for(cache_dir: Path, shape: str, quant: str, tokenizer: Path) -> Path:
    """The cached random checkpoint for (shape, quant), made on first use.

    bf16 is written first; 8- and 4-bit are made from it by our converter. Each is built in a
    temporary folder and renamed into place, so an interrupted run leaves nothing half-written.
    """
    path = cache_dir / f"random-{shape}" / quant
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(quant + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    bits = QUANTS[quant]
    if bits is None:
        make_checkpoint(partial, shape_name=shape, bits=None, tokenizer_model=tokenizer)
    else:
        source = checkpoint_for(cache_dir, shape, "bf16", tokenizer)
        convert(source, partial, bits)
    partial.rename(path)
    print(f"# made {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return path


def random_prompt(n: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [128000, *rng.integers(0, 128000, size=n - 1).tolist()]


def warm_page_cache(path: Path) -> None:
    """Read the checkpoint once so neither engine's load time includes the first disk read."""
    for file in sorted(path.glob("*.safetensors")):
        with file.open("rb") as f:
            while f.read(64 << 20):
                pass


def free_memory() -> None:
    """Release the previous engine's model before the next one loads (each run starts here)."""
    gc.collect()
    mx.clear_cache()
    leftover = mx.get_active_memory()
    if leftover > 50e6:
        print(f"# warning: {leftover / 1e9:.2f} GB still held before loading", file=sys.stderr)


def timed_run(
    steps: Callable[[], Iterator[int]], prompt_tokens: int
) -> tuple[int, float, float, float]:
    """Drive one generation; returns (tokens, prompt tok/s, decode tok/s, time to first token).

    Both engines are timed here, from the moment each token reaches Python.
    """
    started = time.perf_counter()
    stamps = [time.perf_counter() for _ in steps()]
    if not stamps:
        raise RuntimeError("the engine produced no tokens")
    ttft = stamps[0] - started
    decode_tps = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return len(stamps), prompt_tokens / ttft, decode_tps, ttft


def bench_ours(path: Path, quant: str, prompt: list[int], gen_tokens: int) -> RunResult:
    free_memory()
    mx.reset_peak_memory()
    started = time.perf_counter()
    model = mlx_model.load_model(path)
    load_s = time.perf_counter() - started
    load_peak = mx.get_peak_memory() / 1e9
    # Outside the timing, as mlx-lm's load_model reads no tokenizer either.
    tokenizer = mlx_model.Tokenizer.from_pretrained(path)

    def steps(ids: list[int], n: int) -> Iterator[int]:
        # stop_ids=[]: random weights may say a stop token; every run decodes n tokens.
        for event in mlx_model.stream_generate(model, tokenizer, ids, max_tokens=n, stop_ids=[]):
            if event.token is not None:
                yield event.token

    for _ in steps(prompt[:WARMUP_PROMPT], WARMUP_GEN):
        pass
    mx.reset_peak_memory()
    n, prompt_tps, decode_tps, ttft = timed_run(lambda: steps(prompt, gen_tokens), len(prompt))
    peak = mx.get_peak_memory() / 1e9
    timings = (len(prompt), n, prompt_tps, decode_tps, ttft, load_s, load_peak, peak)
    result = RunResult("ours", quant, *timings, str(model.compute_dtype))
    return result  # the model is freed when this frame goes; see free_memory()


def bench_mlx_lm(path: Path, quant: str, prompt: list[int], gen_tokens: int) -> RunResult:
    from mlx_lm.generate import generate_step
    from mlx_lm.utils import load_model

    free_memory()
    mx.reset_peak_memory()
    started = time.perf_counter()
    model, _ = load_model(path)
    load_s = time.perf_counter() - started
    load_peak = mx.get_peak_memory() / 1e9
    activations = str(model.model.embed_tokens(mx.array([[1]])).dtype)

    def steps(ids: list[int], n: int) -> Iterator[int]:
        for token, _ in generate_step(mx.array(ids), model, max_tokens=n):
            yield token

    for _ in steps(prompt[:WARMUP_PROMPT], WARMUP_GEN):
        pass
    mx.reset_peak_memory()
    n, prompt_tps, decode_tps, ttft = timed_run(lambda: steps(prompt, gen_tokens), len(prompt))
    peak = mx.get_peak_memory() / 1e9
    timings = (len(prompt), n, prompt_tps, decode_tps, ttft, load_s, load_peak, peak)
    result = RunResult("mlx-lm", quant, *timings, activations)
    return result  # the model is freed when this frame goes; see free_memory()


def bench_kv8_decode(path: Path, context: int, gen_tokens: int) -> dict[str, float]:
    """Greedy decode with 8-bit K/V already holding ``context`` positions: ours vs mlx-lm's
    QuantizedKVCache, same weights, same activations, one forward pass + argmax per token.

    The caches are filled with random K/V through each engine's own update_and_fetch rather
    than by prefilling (an 8k prefill of the 3B shape takes hours on a CPU); decode cost
    depends on the cache's size and layout, not on what the keys say.
    """
    from mlx_lm.models.cache import QuantizedKVCache
    from mlx_lm.utils import load_model

    free_memory()
    ours_model = mlx_model.load_model(path)
    dtype = ours_model.compute_dtype
    theirs_model, _ = load_model(path)
    theirs_model.set_dtype(dtype)
    cfg = ours_model.config
    bits = 8

    ours_cache = ours_model.make_cache(kv_bits=bits)
    theirs_cache = [
        QuantizedKVCache(group_size=KV_GROUP_SIZE, bits=bits) for _ in range(cfg.num_hidden_layers)
    ]
    chunk = 1024
    for start in range(0, context, chunk):
        n = min(chunk, context - start)
        for i in range(cfg.num_hidden_layers):
            shape = (1, cfg.num_key_value_heads, n, cfg.head_dim)
            k = mx.random.normal(shape, key=mx.random.key(2 * i + start)).astype(dtype)
            v = mx.random.normal(shape, key=mx.random.key(2 * i + 1 + start)).astype(dtype)
            ours_cache.update_and_fetch(i, k, v)
            theirs_cache[i].update_and_fetch(k, v)
        ours_cache.commit(random_prompt(n + 1, seed=start)[1:])
        mx.eval(ours_cache.state(), [c.keys for c in theirs_cache])

    def decode(step: Callable[[mx.array], mx.array]) -> float:
        y = mx.array([1], dtype=mx.int32)
        for _ in range(WARMUP_GEN):  # compile kernels; the caches grow by these tokens too
            y = step(y)
        started = time.perf_counter()
        for _ in range(gen_tokens):
            y = step(y)
        return gen_tokens / (time.perf_counter() - started)

    def ours_step(y: mx.array) -> mx.array:
        out = mx.argmax(ours_model.last_logits(y[None], ours_cache), axis=-1)
        ours_cache.commit([int(out.item())])  # item(): one sync per token, like theirs
        return out

    def theirs_step(y: mx.array) -> mx.array:
        out = mx.argmax(theirs_model(y[None], cache=theirs_cache)[:, -1, :], axis=-1)
        mx.eval(out)
        return out

    ours_tps, theirs_tps = decode(ours_step), decode(theirs_step)
    return {
        "context": context,
        "gen_tokens": gen_tokens,
        "activations": str(dtype),
        "ours_tps": ours_tps,
        "mlx_lm_tps": theirs_tps,
        "ratio": ours_tps / theirs_tps,
    }


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def markdown_table(pairs: list[tuple[RunResult, RunResult]]) -> str:
    rows = [
        "| quant | metric | ours | mlx-lm | ours / mlx-lm |",
        "|---|---|---:|---:|---:|",
    ]
    metrics = [
        ("prompt tok/s", "prompt_tps"),
        ("decode tok/s", "decode_tps"),
        ("time to first token (s)", "ttft_s"),
        ("peak memory, run (GB)", "run_peak_gb"),
        ("peak memory, load (GB)", "load_peak_gb"),
        ("load time (s)", "load_s"),
    ]
    for ours, theirs in pairs:
        for label, field in metrics:
            a, b = getattr(ours, field), getattr(theirs, field)
            # Three significant digits: CPU runs of the 3B shape go well below 1 tok/s.
            rows.append(f"| {ours.quant} | {label} | {a:.3g} | {b:.3g} | {ratio(a, b)} |")
        rows.append(f"| {ours.quant} | activations | {ours.activations} | {theirs.activations} | |")
    return "\n".join(rows)


def parse_quants(text: str) -> list[str]:
    quants = [q.strip() for q in text.split(",") if q.strip()]
    unknown = [q for q in quants if q not in QUANTS]
    if unknown or not quants:
        raise argparse.ArgumentTypeError(
            f"unknown quantization {', '.join(unknown) or text!r}; choose from {', '.join(QUANTS)}"
        )
    return quants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quant",
        type=parse_quants,
        default=list(QUANTS),
        help="comma-separated: bf16,8bit,4bit (default: all three)",
    )
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default="3b",
        help="random checkpoint shape (default: Llama 3.2 3B)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="benchmark this checkpoint instead (one quantization)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where random checkpoints are kept (default: user cache dir)",
    )
    parser.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument(
        "--kv8-context",
        type=int,
        default=None,
        metavar="N",
        help="instead: decode with 8-bit K/V after N cached positions (e.g. "
        "8192), ours vs mlx-lm's QuantizedKVCache; uses --quant's first level",
    )
    args = parser.parse_args(argv)
    if args.kv8_context is not None:
        path = args.model or checkpoint_for(
            cache_dir_of(args), args.shape, args.quant[0], args.tokenizer
        )
        result = bench_kv8_decode(path, args.kv8_context, args.gen_tokens)
        print(json.dumps(result, indent=2))
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    if args.prompt_tokens < WARMUP_PROMPT or args.gen_tokens < 2:
        parser.error(f"--prompt-tokens must be >= {WARMUP_PROMPT} and --gen-tokens >= 2")

    cache_dir = cache_dir_of(args)
    prompt = random_prompt(args.prompt_tokens)
    print(
        f"# device {mx.default_device()}, {platform.machine()}, mlx {mx.__version__}, "
        f"prompt {args.prompt_tokens} tokens, decode {args.gen_tokens} tokens",
        file=sys.stderr,
        flush=True,
    )
    pairs: list[tuple[RunResult, RunResult]] = []
    targets = (
        [("model", args.model)]
        if args.model
        else [(q, checkpoint_for(cache_dir, args.shape, q, args.tokenizer)) for q in args.quant]
    )
    for quant, path in targets:
        warm_page_cache(path)
        ours = bench_ours(path, quant, prompt, args.gen_tokens)
        print(f"# {quant} ours: {ours}", file=sys.stderr, flush=True)
        theirs = bench_mlx_lm(path, quant, prompt, args.gen_tokens)
        print(f"# {quant} mlx-lm: {theirs}", file=sys.stderr, flush=True)
        pairs.append((ours, theirs))
        if args.json_out is not None:  # after each pair, so a long run that is stopped keeps them
            write_json(args.json_out, pairs, args)

    print(markdown_table(pairs))
    return 0


def write_json(path: Path, pairs: list[tuple[RunResult, RunResult]], args) -> None:
    import mlx_lm

    report = {
        "device": str(mx.default_device()),
        "machine": platform.machine(),
        "mlx": mx.__version__,
        "mlx_lm": mlx_lm.__version__,
        "shape": None if args.model else args.shape,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "runs": [asdict(r) for pair in pairs for r in pair],
    }
    path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
