"""Batched generation: several prompts decoded together, one forward pass per step for all.

A decode step on one row reads every weight to produce one token; B rows read them once for B
tokens, so on a bandwidth-bound device the step costs little more than one row's. The layout
follows mlx-lm's BatchKVCache (left padding plus a mask), with the prompts' common prefix
prefilled once and its K/V copied to every row. Row b of the cache holds

    [ shared prefix (P) | padding (pad_b) | row b's own prompt tokens | generated tokens ]

so every row's newest token sits in the same slot and one (B, 1) forward advances all rows.
A boolean mask hides each row's padding, and RoPE positions are per row (slot - pad_b): each
row sees exactly the positions it would see alone, so greedy output equals one-at-a-time
decoding except where summation order tips a near-tie. Rows finish independently (stop token
or their own token limit) and leave the batch, so the remaining rows' steps get cheaper.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import mlx.core as mx

from .config import ModelConfig
from .finish import FinishReason
from .kv_cache import STEP, KVCache
from .llama import Model
from .memory import memory_needed
from .sampling import Sampler, SamplingParams

MAX_BATCH = 8
"""More rows than this add little on Metal (the step stops being bandwidth-bound)."""
MEMORY_SHARE = 0.5
"""Share of the memory left after the weights that a batch's K/V may take."""


class BatchKVCache:
    """K/V of B rows, ``(B, kv_heads, capacity, head_dim)`` per layer, laid out as above.

    Unquantized only: batching serves the short-lived map step of a summary, where 8-bit K/V
    would save little and cost a second attention path.
    """

    kv_bits: int | None = None
    """Always None: attention asks every cache how it stores K/V, and this one keeps them full."""

    def __init__(self, prefix: KVCache, prefix_len: int, pads: Sequence[int]):
        if not 0 <= prefix_len <= prefix.length:
            raise ValueError(f"prefix of {prefix_len} tokens, but the cache holds {prefix.length}")
        if prefix.kv_bits is not None:
            raise ValueError("batched generation needs an unquantized prefix cache (kv_bits None)")
        self.prefix_len = prefix_len
        self.pads = list(pads)
        self._pad_array = mx.array(self.pads, dtype=mx.int32)
        self._prefix = [layer.arrays(prefix_len) for layer in prefix.layers]
        self.keys: list[mx.array | None] = [None] * len(prefix.layers)
        self.values: list[mx.array | None] = [None] * len(prefix.layers)
        self.slot = prefix_len
        """Where the next forward pass writes its K/V, the same slot in every row."""
        self._mask: tuple[tuple[int, int], mx.array] | None = None

    @property
    def rows(self) -> int:
        return len(self.pads)

    @property
    def offset(self) -> mx.array:
        """Each row's RoPE position for the next token, (B,): the slot less that row's padding."""
        return self.slot - self._pad_array

    def update_and_fetch(
        self, layer: int, keys: mx.array, values: mx.array
    ) -> tuple[mx.array, mx.array]:
        # (B, kv_heads, L, head_dim) in; (B, kv_heads, slot + L, head_dim) out
        end = self.slot + keys.shape[2]
        if self.keys[layer] is None or end > self.keys[layer].shape[2]:
            self._grow(layer, end, keys)
        self.keys[layer][..., self.slot : end, :] = keys
        self.values[layer][..., self.slot : end, :] = values
        return self.keys[layer][..., :end, :], self.values[layer][..., :end, :]

    def _grow(self, layer: int, needed: int, like: mx.array) -> None:
        capacity = (needed + STEP - 1) // STEP * STEP
        B, kv_heads, _, head_dim = like.shape
        for store, old in ((self.keys, 0), (self.values, 1)):
            new = mx.zeros((B, kv_heads, capacity, head_dim), dtype=like.dtype)
            if store[layer] is not None:
                new[..., : self.slot, :] = store[layer][..., : self.slot, :]
            elif self.prefix_len:
                shared = self._prefix[layer][old].astype(like.dtype)  # (1, kv_heads, P, D)
                new[..., : self.prefix_len, :] = mx.broadcast_to(
                    shared, (B, kv_heads, self.prefix_len, head_dim)
                )
            store[layer] = new
        if all(k is not None for k in self.keys):
            self._prefix = []  # every layer has its copy now

    def attention_mask(self, length: int) -> mx.array:
        """``(B, 1, length, slot + length)``, True where a query may look: causal, no padding.

        A query always sees itself, so a padding position (whose output nobody reads) never has
        an all-masked softmax: its K/V stay finite whatever a kernel makes of such a row.
        """
        key = (self.slot, length)
        if self._mask is None or self._mask[0] != key:
            total = self.slot + length
            queries = mx.arange(self.slot, total)[:, None]  # (L, 1)
            keys = mx.arange(total)[None]  # (1, S)
            padding = (keys >= self.prefix_len) & (
                keys < self.prefix_len + self._pad_array[:, None, None]
            )  # (B, 1, S)
            mask = ((keys <= queries) & ~padding) | (keys == queries)  # (B, L, S)
            self._mask = (key, mask[:, None])
        return self._mask[1]

    def advance(self, n: int) -> None:
        """Count the ``n`` slots the forward pass just queued as written."""
        self.slot += n

    def keep_rows(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (indices into the current batch), in that order."""
        index = mx.array(list(rows), dtype=mx.int32)
        self.keys = [k[index] if k is not None else None for k in self.keys]
        self.values = [v[index] if v is not None else None for v in self.values]
        self.pads = [self.pads[r] for r in rows]
        self._pad_array = mx.array(self.pads, dtype=mx.int32)
        self._mask = None

    def state(self) -> list[mx.array]:
        return [a for a in (*self.keys, *self.values) if a is not None]


@dataclass
class BatchRow:
    """One prompt's answer."""

    tokens: list[int]
    """Generated ids, the stop token excluded."""
    finish_reason: FinishReason
    """STOP, LENGTH or CANCELLED."""


@dataclass
class BatchStats:
    rows: int = 0
    prompt_tokens: int = 0
    """Tokens prefilled for the rows (shared prefix counted once, padding not counted)."""
    generated_tokens: int = 0
    forwards: int = 0
    """Forward passes (prefill chunks and decode steps); each reads the weights once."""
    row_steps: list[int] = field(default_factory=list)
    """Rows in the batch at each decode step."""


def batch_generate(
    model: Model,
    prompts: Sequence[Sequence[int]],
    *,
    stop_ids: Sequence[int],
    cache: KVCache | None = None,
    sampling: SamplingParams | None = None,
    max_tokens: int | Sequence[int] = 512,
    cancel: threading.Event | None = None,
    on_row_done: Callable[[int, BatchRow], None] | None = None,
    on_prefill: Callable[[int, int], None] | None = None,
    stats: BatchStats | None = None,
) -> list[BatchRow]:
    """Answer every prompt (token ids in, token ids out); rows in the order of ``prompts``.

    ``cache`` (a single-row KVCache, e.g. one holding a system prompt) keeps the prompts'
    common prefix afterwards, so a following one-row prompt with that prefix skips it.
    ``max_tokens`` is one limit for all rows or one per row. Each row samples with its own
    Sampler built from ``sampling``, as a separate call would. ``on_row_done(i, row)`` runs as
    each row finishes; after ``cancel`` is set every unfinished row ends CANCELLED.
    ``on_prefill(read, total)`` runs after each forward that reads the prompts (tokens of all
    rows together), so a long read shows progress long before the first row is done.
    """
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    limits = [max_tokens] * len(prompts) if isinstance(max_tokens, int) else list(max_tokens)
    if len(limits) != len(prompts) or min(limits) < 1:
        raise ValueError("max_tokens must be at least 1, once or once per prompt")
    stats = stats if stats is not None else BatchStats()
    stats.rows = len(prompts)
    params = sampling or SamplingParams()
    stops = set(stop_ids)
    cancel = cancel or threading.Event()
    results: list[BatchRow | None] = [None] * len(prompts)

    def finish(i: int, tokens: list[int], reason: FinishReason) -> None:
        results[i] = BatchRow(tokens, reason)
        if on_row_done is not None:
            on_row_done(i, results[i])

    prefilled = _prefill_rows(model, cache, prompts, stats, cancel, on_prefill)
    if prefilled is None:
        for i in range(len(prompts)):
            finish(i, [], FinishReason.CANCELLED)
        return results
    logits, batch_cache = prefilled
    samplers = [Sampler(params) for _ in prompts]
    window = params.repetition_context
    penalty = params.repetition_penalty != 1.0
    recent = [list(p[-window:]) for p in prompts] if penalty else None
    generated: list[list[int]] = [[] for _ in prompts]
    active = list(range(len(prompts)))  # original indices of the rows in the batch, in order

    def sample(logits: mx.array) -> mx.array:
        picks = []
        for row, i in enumerate(active):
            seen = mx.array(recent[i][-window:], dtype=mx.int32) if penalty else None
            picks.append(samplers[i](logits[row : row + 1], seen))
        return mx.concatenate(picks)

    y = sample(logits)
    mx.async_eval(y)
    while active:
        # Rows that reach their limit with this token take no further step. The others' next
        # step is queued before this one's tokens are read, so the host's bookkeeping overlaps
        # the device's work; a row that turns out to have stopped costs one wasted row-step.
        stepping = (
            []
            if cancel.is_set()
            else [row for row, i in enumerate(active) if len(generated[i]) + 1 < limits[i]]
        )
        if stepping:
            feed = y
            if len(stepping) < len(active):
                batch_cache.keep_rows(stepping)
                feed = y[mx.array(stepping, dtype=mx.int32)]
            next_logits = model.last_logits(feed[:, None], batch_cache)
            batch_cache.advance(1)
            stats.forwards += 1
            stats.row_steps.append(len(stepping))
        place = {row: n for n, row in enumerate(stepping)}  # batch row -> row of next_logits
        keep: list[int] = []
        for row, (i, token) in enumerate(zip(active, y.tolist(), strict=True)):
            if token in stops:
                finish(i, generated[i], FinishReason.STOP)
                continue
            generated[i].append(token)
            stats.generated_tokens += 1
            if penalty:
                recent[i].append(token)
            if len(generated[i]) >= limits[i]:
                finish(i, generated[i], FinishReason.LENGTH)
            elif row not in place:
                finish(i, generated[i], FinishReason.CANCELLED)
            else:
                keep.append(row)
        if not keep:
            break
        if len(keep) < len(stepping):
            rows = [place[row] for row in keep]
            batch_cache.keep_rows(rows)
            next_logits = next_logits[mx.array(rows, dtype=mx.int32)]
        active = [active[row] for row in keep]
        y = sample(next_logits)
        mx.async_eval(y)
    if batch_cache.state():
        mx.eval(batch_cache.state())  # let a queued step finish before its buffers go
    return results


def _prefill_rows(
    model: Model,
    cache: KVCache | None,
    prompts: Sequence[Sequence[int]],
    stats: BatchStats,
    cancel: threading.Event,
    on_prefill: Callable[[int, int], None] | None = None,
) -> tuple[mx.array, BatchKVCache] | None:
    """Prefill the common prefix once (into ``cache``), then every row's rest together.
    Returns None if ``cancel`` is set between two chunks."""
    from .generate import PREFILL_STEP, prefill

    shared = _common_prefix(prompts)
    # Each row keeps at least one token of its own: its last position gives its first logits.
    shared = min(shared, min(len(p) for p in prompts) - 1)
    cache = cache if cache is not None else model.make_cache()
    if shared:
        held = min(cache.common_prefix(prompts[0][:shared]), shared - 1)
        # Its logits stay lazy, so they are never computed.
        if prefill(model, cache, list(prompts[0][:shared]), cancel=cancel) is None:
            return None
        mx.eval(cache.state())
        stats.prompt_tokens += shared - held
        stats.forwards += -(-(shared - held - 1) // PREFILL_STEP) + 1
    else:
        cache.trim_to(0)
    rests = [list(p[shared:]) for p in prompts]
    width = max(len(r) for r in rests)
    pads = [width - len(r) for r in rests]
    batch_cache = BatchKVCache(cache, shared, pads)
    # Padding ids are never attended to; 0 is as good as any.
    tokens = mx.array([[0] * pad + r for pad, r in zip(pads, rests, strict=True)], dtype=mx.int32)
    stats.prompt_tokens += sum(len(r) for r in rests)
    # About PREFILL_STEP tokens per forward in all, however many rows: one forward costs what
    # a single prompt's chunk does, so Esc (checked between forwards) stops as soon.
    step = max(16, PREFILL_STEP // len(rests))
    total = shared + sum(len(r) for r in rests)
    done = 0
    while width - done > step:
        model.hidden(tokens[:, done : done + step], batch_cache)
        batch_cache.advance(step)
        mx.eval(batch_cache.state())
        done += step
        stats.forwards += 1
        if on_prefill is not None:
            read = sum(min(done, width) - min(pad, done) for pad in pads)
            on_prefill(shared + read, total)
        if cancel.is_set():
            return None
    logits = model.last_logits(tokens[:, done:], batch_cache)
    batch_cache.advance(width - done)
    stats.forwards += 1
    if on_prefill is not None:
        on_prefill(total, total)
    return logits, batch_cache


def _common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    first = prompts[0]
    n = min(len(p) for p in prompts)
    for j in range(n):
        if any(p[j] != first[j] for p in prompts[1:]):
            return j
    return n


def batch_size_for(
    config: ModelConfig, tokens_per_row: int, *, free_bytes: int | None = None
) -> int:
    """How many rows of ``tokens_per_row`` tokens (prompt plus answer) to run together: as many
    as MEMORY_SHARE of the free memory holds, between 1 and MAX_BATCH."""
    if free_bytes is None:
        free_bytes = _total_memory() - mx.get_active_memory()
    row_bytes = memory_needed(config, None, tokens_per_row, None).kv_bytes
    row_bytes += 2 * config.vocab_size * 4  # a row's logits and its sampler's float32 copy
    return max(1, min(MAX_BATCH, int(free_bytes * MEMORY_SHARE) // max(row_bytes, 1)))


def _total_memory() -> int:
    # Metal reports its working set; MLX's CPU backend reports none, so ask the OS.
    reported = mx.device_info().get("memory_size")
    if reported:
        return int(reported)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
