"""Our engine and mlx-lm side by side, in one process, on the same checkpoints.

    python scripts/bench.py                                # Llama 3.2 3B shapes, bf16/8-bit/4-bit
    python scripts/bench.py --shape tiny                   # a quick check that everything runs
    python scripts/bench.py --quant 4bit --prompt-tokens 512 --gen-tokens 64 --json-out r.json
    python scripts/bench.py --model DIR                    # a real checkpoint instead
    python scripts/bench_long_context.py                   # decode at 2k/8k/32k, bf16 and 8-bit K/V

By default the checkpoints are random weights with Llama 3.2 3B Instruct's exact shapes,
generated once into a cache directory: bf16 first, then quantized to 8 and 4 bit by our
converter. Random weights cost exactly what real ones do per token.

For each quantization three engines are loaded once: ours; mlx-lm as shipped (bf16
activations); and mlx-lm at our activation dtype (float32 for quantized weights on a CPU), the
fair comparison, since activation precision alone changes CPU speed several-fold. Then
--repeats rounds run each engine once, the order rotated every round so none always goes first,
on the same random prompt, decoding greedily:
- prompt tok/s: prompt tokens / time to first token;
- decode tok/s: from per-token timestamps, the first token excluded (its time is prefill),
  taken the same way for every engine (our stream_generate events, mlx-lm's generate_step);
- time to first token;
- peak memory of a run above what was held before it; load time and load peak, once.
The table gives the median over the rounds and, in brackets, the lowest and highest. Our
numbers include streaming detokenization, which mlx-lm's generate_step does not do.

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


ENGINES = ("ours", "mlx-lm", "mlx-lm fair")
METRICS = (
    ("prompt tok/s", "prompt_tps"),
    ("decode tok/s", "decode_tps"),
    ("time to first token (s)", "ttft_s"),
    ("peak memory, run (GB)", "run_peak_gb"),
)

LOAD_METRICS = (("load time (s)", "load_s"), ("peak memory, load (GB)", "load_peak_gb"))


@dataclass
class Engine:
    name: str
    steps: Callable[[list[int], int], Iterator[int]]
    load_s: float
    load_peak_gb: float
    activations: str


@dataclass
class RunResult:
    engine: str
    quant: str
    prompt_tps: float
    decode_tps: float
    ttft_s: float
    run_peak_gb: float


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


def load_ours(path: Path) -> Engine:
    model, load_s, load_peak = timed_load(lambda: mlx_model.load_model(path))
    # Outside the timing, as mlx-lm's load_model reads no tokenizer either.
    tokenizer = mlx_model.Tokenizer.from_pretrained(path)

    def steps(ids: list[int], n: int) -> Iterator[int]:
        # stop_ids=[]: random weights may say a stop token; every run decodes n tokens.
        for event in mlx_model.stream_generate(model, tokenizer, ids, max_tokens=n, stop_ids=[]):
            if event.token is not None:
                yield event.token

    return Engine("ours", steps, load_s, load_peak, str(model.compute_dtype))


def load_mlx_lm(path: Path, name: str, dtype: mx.Dtype | None) -> Engine:
    """mlx-lm's model, as shipped (``dtype`` None) or with its parameters cast to ``dtype``."""
    from mlx_lm.generate import generate_step
    from mlx_lm.utils import load_model

    def load():
        model, _ = load_model(path)
        if dtype is not None:
            model.set_dtype(dtype)
            mx.eval(model.parameters())
        return model

    model, load_s, load_peak = timed_load(load)
    activations = str(model.model.embed_tokens(mx.array([[1]])).dtype)

    def steps(ids: list[int], n: int) -> Iterator[int]:
        for token, _ in generate_step(mx.array(ids), model, max_tokens=n):
            yield token

    return Engine(name, steps, load_s, load_peak, activations)


def timed_load(load: Callable[[], object]) -> tuple[object, float, float]:
    gc.collect()
    held = mx.get_active_memory()
    mx.reset_peak_memory()
    started = time.perf_counter()
    model = load()
    return model, time.perf_counter() - started, (mx.get_peak_memory() - held) / 1e9


def bench_quant(path: Path, quant: str, prompt: list[int], gen: int, repeats: int) -> dict:
    """Interleaved rounds of every engine on one checkpoint: {engine: (Engine, [RunResult])}."""
    free_memory()
    ours = load_ours(path)
    compute = mx.float32 if ours.activations == "mlx.core.float32" else mx.bfloat16
    engines = [ours, load_mlx_lm(path, "mlx-lm", None), load_mlx_lm(path, "mlx-lm fair", compute)]
    for engine in engines:  # compile kernels, touch every weight once
        for _ in engine.steps(prompt[:WARMUP_PROMPT], WARMUP_GEN):
            pass
    runs: dict[str, list[RunResult]] = {e.name: [] for e in engines}
    for round_ in range(repeats):
        for engine in engines[round_ % 3 :] + engines[: round_ % 3]:
            gc.collect()
            held = mx.get_active_memory()
            mx.reset_peak_memory()
            _, prompt_tps, decode_tps, ttft = timed_run(
                lambda e=engine: e.steps(prompt, gen), len(prompt)
            )
            peak = (mx.get_peak_memory() - held) / 1e9
            runs[engine.name].append(
                RunResult(engine.name, quant, prompt_tps, decode_tps, ttft, peak)
            )
        print(f"# {quant} round {round_ + 1}/{repeats} done", file=sys.stderr, flush=True)
    return {e.name: (e, runs[e.name]) for e in engines}


def summary(values: list[float]) -> str:
    """Median and (lowest-highest), three significant digits: CPU 3B runs go below 1 tok/s."""
    return f"{np.median(values):.3g} ({min(values):.3g}-{max(values):.3g})"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def markdown_table(results: list[tuple[str, dict]]) -> str:
    rows = [
        "| quant | metric | ours | mlx-lm (as shipped) | mlx-lm (our activations) | ours / fair |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for quant, by_engine in results:
        for label, field in METRICS:
            cells = [[getattr(r, field) for r in by_engine[name][1]] for name in ENGINES]
            fair = ratio(float(np.median(cells[0])), float(np.median(cells[2])))
            rows.append(
                f"| {quant} | {label} | " + " | ".join(map(summary, cells)) + f" | {fair} |"
            )
        for label, field in (
            ("load time (s)", "load_s"),
            ("peak memory, load (GB)", "load_peak_gb"),
        ):
            values = [getattr(by_engine[name][0], field) for name in ENGINES]
            rows.append(f"| {quant} | {label} | " + " | ".join(f"{v:.3g}" for v in values) + " | |")
        acts = [by_engine[name][0].activations.removeprefix("mlx.core.") for name in ENGINES]
        rows.append(f"| {quant} | activations | " + " | ".join(acts) + " | |")
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
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args(argv)
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
    results: list[tuple[str, dict]] = []
    targets = (
        [("model", args.model)]
        if args.model
        else [(q, checkpoint_for(cache_dir, args.shape, q, args.tokenizer)) for q in args.quant]
    )
    for quant, path in targets:
        warm_page_cache(path)
        results.append((quant, bench_quant(path, quant, prompt, args.gen_tokens, args.repeats)))
        if args.json_out is not None:  # after each level, so a long run that is stopped keeps them
            write_json(args.json_out, results, args)
    print(markdown_table(results))
    return 0


def write_json(path: Path, results: list[tuple[str, dict]], args) -> None:
    import mlx_lm

    report = {
        "device": str(mx.default_device()),
        "machine": platform.machine(),
        "mlx": mx.__version__,
        "mlx_lm": mlx_lm.__version__,
        "shape": None if args.model else args.shape,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "repeats": args.repeats,
        "engines": {
            quant: {
                name: {
                    "load_s": engine.load_s,
                    "load_peak_gb": engine.load_peak_gb,
                    "activations": engine.activations,
                    "runs": [asdict(r) for r in runs],
                }
                for name, (engine, runs) in by_engine.items()
            }
            for quant, by_engine in results
        },
    }
    path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
