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

Whether a draft pays depends on the device: on a CPU a 5-token forward costs ~3 one-token ones,
a rejected draft is pure loss, and a loop that waits for every forward loses plain decoding's
overlap of the next step with the host's work (~8% there). So ``LookupPolicy`` verifies a draft
only where its expected tokens per unit of time beat plain decoding, from the acceptance so far
and the cost of that draft's width (``ForwardCosts``, learned from the loop's own steps, once per
process); otherwise the loop is plain decoding, pipelined, and still scores the draft it did not
verify against the tokens that came, so it drafts again when the text turns to copying.
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


class ForwardCosts:
    """Seconds of a decode step by its forward's width (1 + draft tokens) for one model in this
    process, learned from the decode loop's own steps, so no extra forwards delay the first
    tokens. A step is timed from its start to its tokens being on the host (the caller's time
    between tokens left out); a plain step is pipelined, so its time is what drafting competes
    with. ``fixed`` gives every width that ratio instead (0: drafts are free).
    """

    EMA = 0.3
    """Weight of the newest step: the machine's load changes, so old steps count less."""

    def __init__(self, fixed: float | None = None):
        self.fixed = fixed
        self._seconds: dict[int, float] = {}
        self._seen: dict[int, int] = {}

    def record(self, width: int, seconds: float) -> None:
        seen = self._seen[width] = self._seen.get(width, 0) + 1
        if seen == 1:
            return  # a width's first step pays one-off costs (kernels, buffer growth): not typical
        old = self._seconds.get(width)
        self._seconds[width] = seconds if old is None else old + self.EMA * (seconds - old)

    def ratio(self, width: int) -> float:
        """A width-token step's seconds over a 1-token step's; 1 while either is unmeasured, so
        an unmeasured width gets tried (and measured) rather than ruled out."""
        if self.fixed is not None:
            return self.fixed
        if width == 1 or width not in self._seconds or 1 not in self._seconds:
            return 1.0
        return self._seconds[width] / self._seconds[1]


# Keyed by id(model): a reused id can only mean another model on the same device, whose costs
# are close, and the price of a wrong one is a slower choice, never a different output.
_costs: dict[int, ForwardCosts] = {}


def forward_costs(model: Model) -> ForwardCosts:
    """The process's learned costs for ``model``: each generation goes on from the last one's."""
    return _costs.setdefault(id(model), ForwardCosts())


class LookupPolicy:
    """Which draft to verify: the prefix of the proposal that maximises expected tokens per
    unit of time, or none where plain decoding's one token per 1-token step is better.

    Each draft token is taken to be accepted with probability ``acceptance`` once the ones
    before it were (a geometric run), so a d-token draft yields 1 + a + a^2 + ... + a^d tokens
    for ``costs.ratio(d + 1)`` 1-token steps. On Apple silicon the ratio stays near 1 and any
    acceptance pays; on a CPU a 5-token forward costs ~3 and only copying stretches pay.
    """

    DECAY = 0.8
    """Weight kept by older draft tokens' outcomes: the text turns to copying and back."""

    def __init__(self, costs: ForwardCosts):
        self.costs = costs
        self.draft_forwards = 0
        self.draft_tokens = 0
        self._hits, self._trials = 1.0, 2.0  # prior: one draft token in two accepted

    @property
    def acceptance(self) -> float:
        return self._hits / self._trials

    def choose(self, proposal: list[int]) -> list[int]:
        """The prefix of ``proposal`` worth one forward pass; [] to decode plainly."""
        best, best_rate, expected, run = 0, 1.0, 1.0, 1.0
        for d in range(1, len(proposal) + 1):
            run *= self.acceptance
            expected += run
            rate = expected / max(self.costs.ratio(d + 1), 1e-9)
            if rate > best_rate:
                best, best_rate = d, rate
        return proposal[:best]

    def worth_drafting(self, k: int = DRAFT_TOKENS) -> bool:
        """Whether a full proposal would be verified: while not, decode plainly (pipelined)."""
        return bool(self.choose([0] * k))

    def record(self, proposed: int, accepted: int, *, verified: bool = True) -> None:
        """A draft's outcome; ``verified`` False for one only compared with the plain tokens
        (at temperature 0 the same outcome, above 0 one with the same odds: p(guess))."""
        if verified:
            self.draft_forwards += 1
            self.draft_tokens += accepted + 1
        for hit in [True] * accepted + [False] * (accepted < proposed):
            self._hits = self.DECAY * self._hits + hit
            self._trials = self.DECAY * self._trials + 1

    @property
    def tokens_per_forward(self) -> float:
        return self.draft_tokens / max(self.draft_forwards, 1)


class _Shadow:
    """While decoding plainly, the draft that would have been verified, scored against the
    tokens that came: acceptance stays measured without spending a forward on it, so drafting
    resumes when the text turns to copying."""

    def __init__(self, policy: LookupPolicy):
        self._policy, self._guess, self._hits = policy, [], 0

    def token(self, token: int, index: NgramIndex, k: int) -> None:
        """``token`` came (and is in ``index``): score the guess; start one where a verifying
        pass would have proposed its next draft."""
        if self._guess:
            if token == self._guess[self._hits]:
                self._hits += 1
                if self._hits < len(self._guess):
                    return
                self._policy.record(len(self._guess), self._hits, verified=False)
                self._guess, self._hits = [], 0
                return  # the next token is the one that pass adds; its draft follows that
            self._policy.record(len(self._guess), self._hits, verified=False)
            # The missed token is the one that pass would have corrected to: a draft follows it.
        self._guess, self._hits = index.propose(k), 0

    def start(self, proposal: list[int]) -> None:
        """A proposal that was not verified: score it against the tokens to come."""
        if not self._guess:
            self._guess, self._hits = proposal, 0

    def reset(self) -> None:
        self._guess, self._hits = [], 0


class LookupSteps:
    """Generated tokens (iterate over it), verifying drafts from ``history`` (the prompt) in one
    forward pass each, and decoding plainly, one step queued ahead like plain decoding, while
    ``policy`` finds drafts not worth their cost.

    ``logits`` are the prefill's last-position logits (lazy). ``forwards`` counts target forward
    passes whose tokens arrived, the prefill's included. The cache ends holding every token that
    was yielded; ``close()`` ends early and trims it so.
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
        self.policy = policy or LookupPolicy(forward_costs(model))
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
        cache, sampler, k, policy = self._cache, self._sampler, self._k, self.policy
        max_tokens, stops, cancel = self._max_tokens, self._stops, self._cancel
        window = sampler.params.repetition_context
        index = NgramIndex(history)
        shadow = _Shadow(policy)
        y = _sample_row(sampler, logits, index.tokens, window)
        self.forwards = 1
        self._emitted = 0
        self._queued: mx.array | None = None
        start = cache.offset  # the prompt, committed by prefill
        try:
            # `y` has been sampled but not yielded; each pass yields it, then feeds it.
            while True:
                self._emitted += 1
                yield y
                if y in stops or self._emitted >= max_tokens or _cancelled(cancel):
                    return
                index.extend([y])
                proposal = index.propose(min(k, max_tokens - self._emitted - 1))
                draft = policy.choose(proposal)
                if not draft:
                    shadow.start(proposal)
                    last = yield from self._plain(y, index, shadow)
                    if last is None:
                        return
                    y = last
                    continue
                shadow.reset()
                began = time.perf_counter()
                fed = [y, *draft]
                out = self._model(mx.array([fed], dtype=mx.int32), cache)[0]  # (1 + d, V)
                self.forwards += 1
                accepted, y = _verify(sampler, out, draft, index.tokens, window)
                policy.costs.record(len(fed), time.perf_counter() - began)
                cache.commit(fed[: 1 + accepted])  # the rejected rest is overwritten next pass
                policy.record(len(draft), accepted)
                for token in draft[:accepted]:
                    self._emitted += 1
                    yield token
                    if token in stops or _cancelled(cancel):
                        return
                    index.extend([token])
        finally:
            if self._queued is not None:
                mx.eval(self._queued)  # let the queued step finish before the cache is trimmed
            # Keep only tokens that reached the caller; a stop inside an accepted run ends there.
            cache.trim_to(min(cache.length, start + self._emitted))

    def _plain(
        self, y: int, index: NgramIndex, shadow: _Shadow
    ) -> Generator[int, None, int | None]:
        """Plain decoding from ``y`` (yielded, in ``index``, not yet fed), the next step queued
        on the device before this token is awaited on the host, as in plain decoding, for as
        long as the policy would not draft. Returns the next token, sampled but not yet yielded,
        when a draft is worth trying again; None when generation ended."""
        model, cache, sampler, policy = self._model, self._cache, self._sampler, self.policy
        window = sampler.params.repetition_context
        began = time.perf_counter()

        def step(token: mx.array) -> mx.array:
            recent = None
            if _penalised(sampler):  # the window up to and including `token`
                recent = mx.concatenate([mx.array(index.tokens[-window:], dtype=mx.int32), token])
                recent = recent[-window:]
            ahead = sampler(model.last_logits(token[None], cache), recent)
            mx.async_eval(ahead)
            return ahead

        # index.tokens ends with y, so its window already holds it.
        recent = mx.array(index.tokens[-window:], dtype=mx.int32) if _penalised(sampler) else None
        nxt = sampler(model.last_logits(mx.array([[y]], dtype=mx.int32), cache), recent)
        mx.async_eval(nxt)
        cache.commit([y])
        self._queued = nxt
        while True:
            # Decided before this token is known: one more plain step while drafts do not pay.
            more = self._emitted + 1 < self._max_tokens and not policy.worth_drafting(self._k)
            ahead = step(nxt) if more else None
            token = nxt.item()
            self.forwards += 1
            policy.costs.record(1, time.perf_counter() - began)
            if ahead is None:
                self._queued = None
                return token
            cache.commit([token])  # its K/V are being written by the step just queued
            self._queued = ahead
            self._emitted += 1
            yield token
            began = time.perf_counter()
            if token in self._stops or self._emitted >= self._max_tokens:
                return None
            if _cancelled(self._cancel):
                return None
            index.extend([token])
            shadow.token(token, index, self._k)
            nxt = ahead


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
