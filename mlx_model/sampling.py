"""Choosing the next token from logits: greedy, temperature, top-k, top-p, min-p, repetition
penalty (Keskar et al., 2019), all seeded so a run can be repeated exactly.

``SAMPLING_LIMITS`` is the one statement of what each sampling field accepts; settings files,
command-line flags and settings screens derive their checks and help text from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import mlx.core as mx


@dataclass(frozen=True)
class Limit:
    """The values one sampling field accepts, with a one-line description for people."""

    name: str
    kind: type
    low: float
    high: float | None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    help: str = ""
    """What the field does, in a few lowercase words (a flag's help, a settings hint)."""

    def check(self, value: object) -> float | int | None:
        """The value normalised to ``kind``; raises ValueError(self.expected) if out of range."""
        if value is None and self.optional:
            return None
        # bool is an int subclass, and True as a temperature is a typo, not 1.0.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(self.expected)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(self.expected)
        if self.kind is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(self.expected)
                value = int(value)  # JSON writers sometimes emit 40.0
        else:
            value = float(value)
        too_low = value <= self.low if self.low_open else value < self.low
        too_high = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        if too_low or too_high:
            raise ValueError(self.expected)
        return value

    @property
    def expected(self) -> str:
        """What the field accepts, e.g. "a number in [0, 1)" or "a whole number ≥ 0"."""
        noun = "a whole number" if self.kind is int else "a number"
        low = _show(self.low)
        if self.high is None:
            text = f"{noun} {'>' if self.low_open else '≥'} {low}"
        else:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            text = f"{noun} in {left}{low}, {_show(self.high)}{right}"
        return f"empty (none) or {text}" if self.optional else text

    @property
    def described(self) -> str:
        """What the field does and what it accepts, e.g. "randomness; 0 always picks the
        likeliest token (a number in [0, 2])": the words every front end shows."""
        return f"{self.help} ({self.expected})"


def _show(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# mx.random.key takes seeds up to 2**64 - 1; 2**63 - 1 also fits SQLite and int64 everywhere.
MAX_SEED = 2**63 - 1

SAMPLING_LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit(
            "temperature", float, 0.0, 2.0, help="randomness; 0 always picks the likeliest token"
        ),
        Limit(
            "top_p",
            float,
            0.0,
            1.0,
            low_open=True,
            help="keep the likeliest tokens adding up to this probability; 1 is off",
        ),
        Limit("top_k", int, 0, None, help="keep only the k likeliest tokens; 0 is off"),
        Limit(
            "min_p",
            float,
            0.0,
            1.0,
            high_open=True,
            help="drop tokens below this fraction of the top one's probability; 0 is off",
        ),
        Limit(
            "repetition_penalty",
            float,
            0.0,
            2.0,
            low_open=True,
            help="above 1 discourages repeating recent tokens; 1 is off",
        ),
        Limit(
            "repetition_context",
            int,
            1,
            None,
            help="how many recent tokens the repetition penalty looks at",
        ),
        Limit(
            "seed",
            int,
            0,
            MAX_SEED,
            optional=True,
            help="the same seed, prompt and settings give the same answer",
        ),
    )
}


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
        for f in fields(self):
            limit = SAMPLING_LIMITS[f.name]
            value = getattr(self, f.name)
            try:
                normalised = limit.check(value)
            except ValueError:
                raise ValueError(f"{f.name} must be {limit.expected}, got {value!r}") from None
            object.__setattr__(self, f.name, normalised)


class Sampler:
    """Turns (1, vocab) logits into a (1,) token array, staying on the device (no host sync)."""

    def __init__(self, params: SamplingParams):
        self.params = params
        self.key = mx.random.key(params.seed if params.seed is not None else _fresh_seed())

    def __call__(self, logits: mx.array, recent_tokens: mx.array | None = None) -> mx.array:
        scores = self.scores(logits, recent_tokens)
        if self.params.temperature == 0:
            return mx.argmax(scores, axis=-1)
        return mx.random.categorical(scores, axis=-1, key=self.next_key())

    def scores(self, logits: mx.array, recent_tokens: mx.array | None = None) -> mx.array:
        """What the choice is made from: penalised logits at temperature 0 (argmax), else
        filtered log-probabilities whose softmax is the distribution sampled from."""
        p = self.params
        logits = logits.astype(mx.float32)
        if p.repetition_penalty != 1.0 and recent_tokens is not None and recent_tokens.size:
            logits = apply_repetition_penalty(logits, recent_tokens, p.repetition_penalty)
        if p.temperature == 0:
            return logits
        logprobs = logits / p.temperature
        logprobs = logprobs - mx.logsumexp(logprobs, axis=-1, keepdims=True)
        # transformers' order: top-k, then top-p on what top-k kept, re-normalised (its top-p
        # warper takes a softmax of the filtered scores); min-p is a ratio, so it needs none.
        if p.top_k > 0:
            logprobs = _top_k(logprobs, p.top_k)
            logprobs = logprobs - mx.logsumexp(logprobs, axis=-1, keepdims=True)
        if p.top_p < 1.0:
            logprobs = _top_p(logprobs, p.top_p)
        if p.min_p > 0.0:
            logprobs = _min_p(logprobs, p.min_p)
        return logprobs

    def next_key(self) -> mx.array:
        """A fresh random key; the sequence is fixed by the seed."""
        self.key, subkey = mx.random.split(self.key)
        return subkey


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
