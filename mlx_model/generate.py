"""Streaming generation: chunked prefill, then a decode loop that keeps the device busy.

The decode loop builds step n+1's graph and hands it to ``mx.async_eval`` before it waits for
token n on the host, so Python's per-token work (detokenizing, events, the caller's UI) overlaps
with the model's compute instead of adding to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import mlx.core as mx

from .kv_cache import KVCache
from .llama import Model
from .lookup import lookup_steps
from .sampling import Sampler, SamplingParams
from .tokenizer import Tokenizer

PREFILL_STEP = 512


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    """Tokens of the prompt, cached ones included."""
    cached_tokens: int = 0
    """Prompt tokens reused from the cache (not prefilled again)."""
    prompt_tps: float = 0.0
    """Prefilled tokens per second."""
    generation_tokens: int = 0
    generation_tps: float = 0.0
    """Decode speed from per-token timestamps, first token excluded (its time is prefill)."""
    ttft_s: float = 0.0
    """Seconds from the call to the first generated token."""
    peak_memory_gb: float = 0.0
    forwards: int = 0
    """Target-model forward passes that produced tokens, the prefill's last one included; below
    generation_tokens when prompt lookup verified several tokens in one pass."""


@dataclass
class GenerationEvent:
    token: int | None
    """The generated token id; None on a final event that carries no new token."""
    text: str
    """Text delta (may be empty while a multi-byte character is incomplete)."""
    finish_reason: str | None = None
    """None while generating; then "stop", "length" or "cancelled"."""
    stats: GenerationStats = field(default_factory=GenerationStats)


def prefill(
    model: Model,
    cache: KVCache,
    prompt_ids: list[int],
    *,
    step: int = PREFILL_STEP,
    cancel: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> mx.array | None:
    """Run the part of ``prompt_ids`` the cache lacks; returns the last position's logits (lazy).

    The cache keeps its longest common prefix with the prompt. At least one token is always run,
    since the next token's logits come from the last prompt position. Returns None if cancelled.
    """
    if not prompt_ids:
        raise ValueError("prompt_ids is empty")
    keep = min(cache.common_prefix(prompt_ids), len(prompt_ids) - 1)
    cache.trim_to(keep)
    todo = prompt_ids[keep:]
    # Every token but the last only needs its K/V: evaluating just the cache lets MLX skip the
    # rest of the graph (the last layer's MLP, the final norm) for those positions.
    body, last = todo[:-1], todo[-1:]
    done = 0
    while done < len(body):
        chunk = body[done : done + step]
        model.hidden(mx.array(chunk, dtype=mx.int32)[None], cache)
        cache.commit(chunk)
        mx.eval(cache.state())
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(todo))
        if cancel is not None and cancel.is_set():
            return None
    logits = model.last_logits(mx.array(last, dtype=mx.int32)[None], cache)
    cache.commit(last)
    return logits


def stream_generate(
    model: Model,
    tokenizer: Tokenizer,
    prompt_ids: list[int],
    *,
    cache: KVCache | None = None,
    sampling: SamplingParams | None = None,
    max_tokens: int = 512,
    stop_ids: list[int] | tuple[int, ...] | None = None,
    cancel: threading.Event | None = None,
    prefill_step: int = PREFILL_STEP,
    on_prefill_progress: Callable[[int, int], None] | None = None,
    prompt_lookup: bool = False,
) -> Iterator[GenerationEvent]:
    """Yield one event per generated token, then a final event with ``finish_reason``.

    ``prompt_lookup`` drafts tokens from the prompt and verifies them several per forward pass
    (mlx_model.lookup), where the running generation's acceptance makes that pay.

    Pass a ``cache`` to keep it between calls: a prompt that extends what the cache holds
    prefills only the new tokens. After the call the cache holds every token that was fed to the
    model, so the next turn continues from there.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    cache = cache if cache is not None else model.make_cache()
    sampler = Sampler(sampling or SamplingParams())
    stops = set(stop_ids if stop_ids is not None else tokenizer.eos_token_ids)
    detok = tokenizer.detokenizer()
    stats = GenerationStats(prompt_tokens=len(prompt_ids))
    penalty = sampler.params.repetition_penalty != 1.0
    window = sampler.params.repetition_context

    mx.reset_peak_memory()
    start = time.perf_counter()
    stats.cached_tokens = min(cache.common_prefix(prompt_ids), len(prompt_ids) - 1)
    logits = prefill(
        model, cache, prompt_ids, step=prefill_step, cancel=cancel, on_progress=on_prefill_progress
    )
    if logits is None:
        yield GenerationEvent(None, "", "cancelled", _finish(stats, cache))
        return
    if prompt_lookup:
        yield from _lookup_events(
            model,
            cache,
            sampler,
            logits,
            prompt_ids,
            max_tokens,
            stops,
            cancel,
            detok,
            stats,
            start,
        )
        return
    recent = mx.array(prompt_ids[-window:], dtype=mx.int32) if penalty else None
    y = sampler(logits, recent)
    mx.async_eval(y)

    generated: list[int] = []
    times: list[float] = []
    finish: str | None = None
    while True:
        if len(generated) + 1 < max_tokens:
            # Queue the next step on the device before waiting for this token on the host.
            if penalty:
                recent = mx.concatenate([recent, y])[-window:]
            next_y = sampler(model.last_logits(y[None], cache), recent)
            mx.async_eval(next_y)
        else:
            next_y = None
        token = y.item()
        if next_y is not None:
            cache.commit([token])  # its K/V are being written by the step just queued
        now = time.perf_counter()
        times.append(now)
        if not generated:
            stats.ttft_s = now - start
            prefilled = len(prompt_ids) - stats.cached_tokens
            stats.prompt_tps = prefilled / max(stats.ttft_s, 1e-9)
        generated.append(token)
        stats.forwards = len(generated)
        if token in stops:
            finish = "stop"
            break
        stats.generation_tokens = len(generated)
        if len(times) > 1:
            stats.generation_tps = (len(times) - 1) / max(times[-1] - times[0], 1e-9)
        yield GenerationEvent(token, detok.add(token), None, stats)
        if next_y is None:
            finish = "length"
            break
        if cancel is not None and cancel.is_set():
            finish = "cancelled"
            break
        y = next_y

    if next_y is not None:
        mx.eval(next_y)  # let the queued step finish before the cache is trimmed or reused
    yield GenerationEvent(None, detok.flush(), finish, _finish(stats, cache))


def _lookup_events(
    model: Model,
    cache: KVCache,
    sampler: Sampler,
    logits: mx.array,
    prompt_ids: list[int],
    max_tokens: int,
    stops: set[int],
    cancel: threading.Event | None,
    detok,
    stats: GenerationStats,
    start: float,
) -> Iterator[GenerationEvent]:
    counter = [0]
    steps = lookup_steps(
        model,
        cache,
        sampler,
        logits,
        list(prompt_ids),
        max_tokens,
        counter,
        stops=stops,
        cancel=cancel,
    )
    times: list[float] = []
    finish = "length"
    for token in steps:
        now = time.perf_counter()
        times.append(now)
        stats.forwards = counter[0]
        if len(times) == 1:
            stats.ttft_s = now - start
            stats.prompt_tps = (len(prompt_ids) - stats.cached_tokens) / max(stats.ttft_s, 1e-9)
        if token in stops:
            finish = "stop"
            break
        stats.generation_tokens = len(times)
        if len(times) > 1:
            stats.generation_tps = (len(times) - 1) / max(times[-1] - times[0], 1e-9)
        yield GenerationEvent(token, detok.add(token), None, stats)
        if cancel is not None and cancel.is_set():
            finish = "cancelled"
            break
    steps.close()  # trims the cache to the tokens that reached the caller
    yield GenerationEvent(None, detok.flush(), finish, _finish(stats, cache))


def _finish(stats: GenerationStats, cache: KVCache) -> GenerationStats:
    stats.peak_memory_gb = mx.get_peak_memory() / 1e9
    return stats


def generate_all(
    model: Model, tokenizer: Tokenizer, prompt_ids: list[int], **kwargs
) -> tuple[list[int], str, GenerationEvent]:
    """Run ``stream_generate`` to the end: (token ids, text, final event)."""
    tokens: list[int] = []
    parts: list[str] = []
    event = None
    for event in stream_generate(model, tokenizer, prompt_ids, **kwargs):
        if event.token is not None:
            tokens.append(event.token)
        parts.append(event.text)
    return tokens, "".join(parts), event


def main(argv: list[str] | None = None) -> int:
    from . import load

    parser = argparse.ArgumentParser(
        prog="python -m mlx_model.generate", description="Generate text from a local checkpoint."
    )
    parser.add_argument("--model", required=True, help="checkpoint directory")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="raw prompt text (no chat template applied)")
    source.add_argument("--prompt-ids", help="comma-separated token ids")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temp", type=float, default=0.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--draft",
        choices=["none", "lookup"],
        default="none",
        help="lookup: verify tokens guessed from the prompt, several per forward pass",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)

    try:
        model, tokenizer = load(args.model)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.prompt_ids is not None:
        try:
            prompt_ids = [int(t) for t in args.prompt_ids.split(",") if t.strip()]
        except ValueError:
            parser.error("--prompt-ids must be comma-separated integers")
    else:
        prompt_ids = tokenizer.encode(args.prompt, bos=True)
    sampling = SamplingParams(temperature=args.temp, top_p=args.top_p, seed=args.seed)
    tokens: list[int] = []
    parts: list[str] = []
    final = None
    try:
        for event in stream_generate(
            model,
            tokenizer,
            prompt_ids,
            sampling=sampling,
            max_tokens=args.max_tokens,
            prompt_lookup=args.draft == "lookup",
        ):
            if event.token is not None:
                tokens.append(event.token)
            parts.append(event.text)
            if not args.json:
                print(event.text, end="", flush=True)
            final = event
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    stats = final.stats
    if args.json:
        print(
            json.dumps(
                {
                    "prompt_tokens": stats.prompt_tokens,
                    "tokens": tokens,
                    "text": "".join(parts),
                    "finish_reason": final.finish_reason,
                    "prompt_tps": stats.prompt_tps,
                    "generation_tps": stats.generation_tps,
                    "forwards": stats.forwards,
                    "ttft_s": stats.ttft_s,
                    "peak_memory_gb": stats.peak_memory_gb,
                }
            )
        )
    else:
        print()
        print(json.dumps(asdict(stats)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
