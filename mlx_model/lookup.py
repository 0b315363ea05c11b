"""Prompt-lookup decoding: several tokens per forward pass, with no draft model.

Decoding one token reads every weight once, and on Apple silicon that read, not the arithmetic,
sets the speed, so checking k guessed tokens in one forward costs about as much as producing
one. Summaries, rewrites and grammar fixes copy long spans of their input, so a good guess is
what followed the latest earlier occurrence of the last n tokens (Saxena, "Prompt Lookup
Decoding", 2023; n = 3, then 2). The target model scores the guesses in one pass; the accepted
prefix is kept and the KV cache rolled back past the rest.

At temperature 0 a guess is accepted when it is the argmax, so the output is plain decoding's
(up to float rounding: a multi-token forward adds in another order, which can flip a genuine
near-tie). Above 0 it is speculative sampling (Leviathan et al., 2023; Chen et al., 2023) with a
deterministic draft: accept guess t with probability p(t), else sample from max(p - onehot(t), 0)
renormalised, which leaves the output distribution exactly the target's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Container, Generator, Iterator

import mlx.core as mx

from .kv_cache import KVCache
from .llama import Model
from .sampling import Sampler

DRAFT_TOKENS = 4
NGRAM_SIZES = (3, 2)
PROBE_EVERY = 16
"""While lookup does not pay, still try one draft this often, since the text may turn to copying."""


class NgramIndex:
    """The latest position of every n-gram that has a continuation, updated per token."""

    def __init__(self, tokens: list[int], sizes: tuple[int, ...] = NGRAM_SIZES):
        self.tokens: list[int] = []
        self.sizes = sizes
        self._latest: dict[tuple[int, ...], int] = {}
        self.extend(tokens)

    def extend(self, tokens: list[int]) -> None:
        for token in tokens:
            end = len(self.tokens)  # the n-grams ending just before `token` now have a successor
            for n in self.sizes:
                if end >= n:
                    self._latest[tuple(self.tokens[end - n : end])] = end - n
            self.tokens.append(token)

    def propose(self, k: int = DRAFT_TOKENS) -> list[int]:
        """Up to k tokens that followed the latest earlier occurrence of the last n tokens."""
        for n in self.sizes:
            if len(self.tokens) < n:
                continue
            start = self._latest.get(tuple(self.tokens[-n:]))
            if start is not None:
                return self.tokens[start + n : start + n + k]
        return []


class LookupPolicy:
    """Use drafts while the generation's accepted tokens per forward beat what a (k+1)-token
    forward costs relative to a 1-token one on this device."""

    def __init__(self, cost_ratio: float):
        self.cost_ratio = cost_ratio
        self.draft_forwards = 0
        self.draft_tokens = 0
        self._skipped = 0

    def use_draft(self) -> bool:
        if self.draft_forwards < 4 or self.tokens_per_forward > self.cost_ratio:
            return True
        self._skipped += 1
        return self._skipped % PROBE_EVERY == 0

    def record(self, tokens: int) -> None:
        self.draft_forwards += 1
        self.draft_tokens += tokens

    @property
    def tokens_per_forward(self) -> float:
        return self.draft_tokens / max(self.draft_forwards, 1)


# Keyed by id(model): a reused id can only mean another model on the same device, whose ratio
# is close, and the cost is a slower choice, never a different output.
_cost_ratios: dict[tuple[int, int], float] = {}


def cost_ratio(model: Model, cache: KVCache, k: int = DRAFT_TOKENS) -> float:
    """Seconds of a (k+1)-token forward over a 1-token one, measured once per model at the
    cache's position (K/V written past ``cache.offset`` are not committed, so they are harmless).
    """
    key = (id(model), k)
    if key not in _cost_ratios:

        def best(width: int) -> float:
            tokens = mx.zeros((1, width), dtype=mx.int32)
            mx.eval(model(tokens, cache))  # warm-up: kernels, buffer growth
            times = []
            for _ in range(2):
                start = time.perf_counter()
                mx.eval(model(tokens, cache))
                times.append(time.perf_counter() - start)
            return min(times)

        _cost_ratios[key] = best(k + 1) / best(1)
    return _cost_ratios[key]


class LookupSteps:
    """Generated tokens (iterate over it), verifying drafts from ``history`` (the prompt) in one
    forward pass each.

    ``logits`` are the prefill's last-position logits (lazy). ``forwards`` counts target forward
    passes so far, the prefill's included. The cache ends holding every token that was yielded;
    ``close()`` ends early and trims it so.
    """

    def __init__(
        self,
        model: Model,
        cache: KVCache,
        sampler: Sampler,
        logits: mx.array,
        history: list[int],
        *,
        max_tokens: int,
        stops: Container[int] = frozenset(),
        cancel: threading.Event | None = None,
        policy: LookupPolicy | None = None,
        k: int = DRAFT_TOKENS,
    ):
        self.forwards = 0
        self._policy = policy  # None: measured (cost_ratio) once the first token is out
        self._model, self._cache, self._sampler = model, cache, sampler
        self._max_tokens, self._stops, self._cancel, self._k = max_tokens, stops, cancel, k
        self._tokens = self._run(logits, history)

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        return next(self._tokens)

    def close(self) -> None:
        self._tokens.close()

    def _run(self, logits: mx.array, history: list[int]) -> Generator[int, None, None]:
        model, cache, sampler, k = self._model, self._cache, self._sampler, self._k
        max_tokens, stops, cancel = self._max_tokens, self._stops, self._cancel
        window = sampler.params.repetition_context
        index = NgramIndex(history)
        y = _sample_row(sampler, logits, index.tokens, window)
        self.forwards = 1
        emitted = 0
        start = cache.offset  # the prompt, committed by prefill
        try:
            while True:
                emitted += 1
                yield y
                if y in stops or emitted >= max_tokens or _cancelled(cancel):
                    return
                index.extend([y])
                if self._policy is None:  # measured after the first token is out, not before
                    self._policy = LookupPolicy(cost_ratio(model, cache, k))
                policy = self._policy
                wanted = min(k, max_tokens - emitted - 1)
                draft = index.propose(wanted) if policy.use_draft() else []
                fed = [y, *draft]
                out = model(mx.array([fed], dtype=mx.int32), cache)[0]  # (1 + len(draft), V)
                self.forwards += 1
                accepted, y = _verify(sampler, out, draft, index.tokens, window)
                cache.commit(fed[: 1 + accepted])  # the rejected rest is overwritten next pass
                if draft:
                    policy.record(accepted + 1)
                for token in draft[:accepted]:
                    emitted += 1
                    yield token
                    if token in stops or _cancelled(cancel):
                        return
                    index.extend([token])
        finally:
            # Keep only tokens that reached the caller; a stop inside an accepted run ends there.
            cache.trim_to(min(cache.length, start + emitted))


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _sample_row(sampler: Sampler, logits: mx.array, tokens: list[int], window: int) -> int:
    recent = mx.array(tokens[-window:], dtype=mx.int32) if _penalised(sampler) else None
    return int(sampler(logits.reshape(1, -1), recent).item())


def _penalised(sampler: Sampler) -> bool:
    return sampler.params.repetition_penalty != 1.0


def _verify(
    sampler: Sampler, logits: mx.array, draft: list[int], history: list[int], window: int
) -> tuple[int, int]:
    """(accepted draft tokens, the next token) from logits (1 + len(draft), V) whose row i
    scores the token after ``history + draft[:i]``."""
    tail = history[-window:] if _penalised(sampler) else []
    rows = []
    for i in range(len(draft) + 1):
        # Row i's penalty sees what plain decoding would have seen: the window up to draft[:i].
        recent = mx.array([*tail, *draft[:i]][-window:], dtype=mx.int32) if tail else None
        rows.append(sampler.scores(logits[i][None], recent)[0])
    scores = mx.stack(rows)  # (1 + len(draft), V)
    if sampler.params.temperature == 0:
        best = mx.argmax(scores, axis=-1).tolist()
        accepted = 0
        while accepted < len(draft) and best[accepted] == draft[accepted]:
            accepted += 1
        return accepted, best[accepted]
    probs = mx.softmax(scores, axis=-1)
    n = len(draft)
    guessed = mx.array(draft, dtype=mx.int32)
    p_guess = mx.take_along_axis(probs[:n], guessed[:, None], axis=-1)[:, 0] if n else None
    uniform = mx.random.uniform(shape=(n,), key=sampler.next_key()) if n else None
    # Residual after a rejection: the target with the guess removed, renormalised by categorical.
    residual = scores
    if n:
        hit = mx.arange(scores.shape[-1])[None] == guessed[:, None]
        residual = mx.concatenate([mx.where(hit, -mx.inf, scores[:n]), scores[n:]])
    samples = mx.random.categorical(residual, axis=-1, key=sampler.next_key())
    if n:
        mx.eval(p_guess, uniform, samples)
        keep = (uniform < p_guess).tolist()
    else:
        keep = []
    accepted = 0
    while accepted < n and keep[accepted]:
        accepted += 1
    return accepted, int(samples[accepted].item())
