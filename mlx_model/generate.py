"""Streaming generation: chunked prefill, then a decode loop that keeps the device busy.

The decode loop builds step n+1's graph and hands it to ``mx.async_eval`` before it waits for
token n on the host, so Python's per-token work (detokenizing, events, the caller's UI) overlaps
with the model's compute instead of adding to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

import mlx.core as mx

from .finish import FinishReason
from .kv_cache import KVCache
from .llama import Model
from .lookup import LookupSteps
from .sampling import Sampler, SamplingParams
from .tokenizer import StreamingDetokenizer, Tokenizer

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
class DecodeClock:
    """The timing both decode loops (plain and prompt lookup) report, from when tokens reach the
    host: the first one sets the time to first token and the prefill speed; the decode speed
    counts the ones after it (the first token's time is prefill)."""

    stats: GenerationStats
    start: float
    """perf_counter() when the call began."""
    prefilled: int
    """Prompt tokens actually run (the cached ones are not)."""
    arrived: int = field(default=0, init=False)
    """Tokens that reached the host so far, a final stop token included."""
    _first: float = field(default=0.0, init=False, repr=False)
    _last: float = field(default=0.0, init=False, repr=False)

    def token_arrived(self) -> None:
        now = time.perf_counter()
        self.arrived += 1
        self._last = now
        if self.arrived == 1:
            self._first = now
            self.stats.ttft_s = now - self.start
            self.stats.prompt_tps = self.prefilled / max(self.stats.ttft_s, 1e-9)

    def token_generated(self) -> None:
        """The token that arrived last is a generated one (not a stop): count it."""
        self.stats.generation_tokens = self.arrived
        if self.arrived > 1:
            self.stats.generation_tps = (self.arrived - 1) / max(self._last - self._first, 1e-9)


@dataclass
class GenerationEvent:
    token: int | None
    """The generated token id; None on a final event that carries no new token."""
    text: str
    """Text delta (may be empty while a multi-byte character is incomplete)."""
    finish_reason: FinishReason | None = None
    """None while generating; then STOP, LENGTH or CANCELLED."""
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

    mx.reset_peak_memory()
    start = time.perf_counter()
    stats.cached_tokens = min(cache.common_prefix(prompt_ids), len(prompt_ids) - 1)
    logits = prefill(
        model, cache, prompt_ids, step=prefill_step, cancel=cancel, on_progress=on_prefill_progress
    )
    if logits is None:
        yield GenerationEvent(None, "", FinishReason.CANCELLED, _finish(stats, cache))
        return
    run = _Decode(
        model=model,
        cache=cache,
        sampler=sampler,
        max_tokens=max_tokens,
        stops=stops,
        cancel=cancel,
        detok=detok,
        clock=DecodeClock(stats, start, prefilled=len(prompt_ids) - stats.cached_tokens),
    )
    decode = _lookup_decode if prompt_lookup else _plain_decode
    finish = yield from decode(run, logits, prompt_ids)
    yield GenerationEvent(None, detok.flush(), finish, _finish(stats, cache))


@dataclass(frozen=True, kw_only=True)
class _Decode:
    """What both decode loops work with, and the per-token bookkeeping they share."""

    model: Model
    cache: KVCache
    sampler: Sampler
    max_tokens: int
    stops: set[int]
    cancel: threading.Event | None
    detok: StreamingDetokenizer
    clock: DecodeClock

    def arrived(self, token: int, *, forwards: int) -> GenerationEvent | None:
        """A token reached the host after ``forwards`` forward passes: time it, and return its
        event, or None for a stop token (it ends the answer and is not shown)."""
        self.clock.token_arrived()
        self.clock.stats.forwards = forwards
        if token in self.stops:
            return None
        self.clock.token_generated()
        return GenerationEvent(token, self.detok.add(token), None, self.clock.stats)

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


def _plain_decode(
    run: _Decode, logits: mx.array, prompt_ids: list[int]
) -> Generator[GenerationEvent, None, FinishReason]:
    """One token per forward pass; yields an event per generated token, returns the finish."""
    model, cache, sampler = run.model, run.cache, run.sampler
    penalty = sampler.params.repetition_penalty != 1.0
    window = sampler.params.repetition_context
    recent = mx.array(prompt_ids[-window:], dtype=mx.int32) if penalty else None
    y = sampler(logits, recent)
    mx.async_eval(y)

    generated = 0
    finish = FinishReason.LENGTH
    while True:
        if generated + 1 < run.max_tokens:
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
        generated += 1
        event = run.arrived(token, forwards=generated)
        if event is None:
            finish = FinishReason.STOP
            break
        yield event
        if next_y is None:
            break
        if run.cancelled():
            finish = FinishReason.CANCELLED
            break
        y = next_y

    if next_y is not None:
        mx.eval(next_y)  # let the queued step finish before the cache is trimmed or reused
    return finish


def _lookup_decode(
    run: _Decode, logits: mx.array, prompt_ids: list[int]
) -> Generator[GenerationEvent, None, FinishReason]:
    """Prompt lookup (mlx_model.lookup): the same events, several tokens per forward pass."""
    steps = LookupSteps(
        run.model, run.cache, run.sampler, logits, list(prompt_ids), max_tokens=run.max_tokens,
        stops=run.stops, cancel=run.cancel,
    )  # fmt: skip
    finish = FinishReason.LENGTH
    for token in steps:
        event = run.arrived(token, forwards=steps.forwards)
        if event is None:
            finish = FinishReason.STOP
            break
        yield event
        if run.cancelled():
            finish = FinishReason.CANCELLED
            break
    steps.close()  # trims the cache to the tokens that reached the caller
    return finish


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
