"""Choosing the next token from logits: greedy, temperature, top-k, top-p, min-p, repetition
penalty (Keskar et al., 2019), all seeded so a run can be repeated exactly."""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0
    """0 means greedy (argmax)."""
    top_p: float = 1.0
    """Keep the smallest set of tokens whose probability adds up to top_p (1.0: off)."""
    top_k: int = 0
    """Keep only the k most likely tokens (0: off)."""
    min_p: float = 0.0
    """Drop tokens less likely than min_p x the top token's probability (0: off)."""
    repetition_penalty: float = 1.0
    """Divide positive logits (multiply negative ones) of recently seen tokens (1.0: off)."""
    repetition_context: int = 64
    """How many recent tokens the repetition penalty looks at."""
    seed: int | None = None
    """Random seed; the same seed, prompt and settings give the same answer."""

    def __post_init__(self) -> None:
        checks = [
            (self.temperature >= 0, "temperature must be >= 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.top_k >= 0, "top_k must be >= 0"),
            (0 <= self.min_p < 1, "min_p must be in [0, 1)"),
            (self.repetition_penalty > 0, "repetition_penalty must be > 0"),
            (self.repetition_context > 0, "repetition_context must be > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


class Sampler:
    """Turns (1, vocab) logits into a (1,) token array, staying on the device (no host sync)."""

    def __init__(self, params: SamplingParams):
        self.params = params
        self.key = mx.random.key(params.seed if params.seed is not None else _fresh_seed())

    def __call__(self, logits: mx.array, recent_tokens: mx.array | None = None) -> mx.array:
        p = self.params
        logits = logits.astype(mx.float32)
        if p.repetition_penalty != 1.0 and recent_tokens is not None and recent_tokens.size:
            logits = apply_repetition_penalty(logits, recent_tokens, p.repetition_penalty)
        if p.temperature == 0:
            return mx.argmax(logits, axis=-1)
        logprobs = logits / p.temperature
        logprobs = logprobs - mx.logsumexp(logprobs, axis=-1, keepdims=True)
        if p.top_k > 0:
            logprobs = _top_k(logprobs, p.top_k)
        if p.top_p < 1.0:
            logprobs = _top_p(logprobs, p.top_p)
        if p.min_p > 0.0:
            logprobs = _min_p(logprobs, p.min_p)
        self.key, subkey = mx.random.split(self.key)
        return mx.random.categorical(logprobs, axis=-1, key=subkey)


def apply_repetition_penalty(logits: mx.array, tokens: mx.array, penalty: float) -> mx.array:
    picked = mx.take(logits, tokens, axis=-1)
    picked = mx.where(picked > 0, picked / penalty, picked * penalty)
    logits[:, tokens] = picked
    return logits


def _top_k(logprobs: mx.array, k: int) -> mx.array:
    k = min(k, logprobs.shape[-1])
    kth = mx.sort(logprobs, axis=-1)[..., -k][..., None]
    return mx.where(logprobs >= kth, logprobs, -mx.inf)


def _top_p(logprobs: mx.array, top_p: float) -> mx.array:
    order = mx.argsort(-logprobs, axis=-1)
    sorted_lp = mx.take_along_axis(logprobs, order, axis=-1)
    cumulative = mx.cumsum(mx.exp(sorted_lp), axis=-1)
    # Keep a token while the mass before it is below top_p, so the top token always survives.
    keep_sorted = (cumulative - mx.exp(sorted_lp)) < top_p
    keep = mx.put_along_axis(mx.zeros_like(keep_sorted), order, keep_sorted, axis=-1)
    return mx.where(keep, logprobs, -mx.inf)


def _min_p(logprobs: mx.array, min_p: float) -> mx.array:
    threshold = mx.max(logprobs, axis=-1, keepdims=True) + mx.log(mx.array(min_p))
    return mx.where(logprobs >= threshold, logprobs, -mx.inf)


def _fresh_seed() -> int:
    import secrets

    return secrets.randbits(31)
