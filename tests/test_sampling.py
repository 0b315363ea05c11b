"""Sampling against transformers' logits processors, plus seeding and the sampled distribution.

Each filter is checked on its own against its transformers twin, then the whole chain through
the public Sampler.
"""

from __future__ import annotations

import re

import mlx.core as mx
import numpy as np
import pytest
import torch
from transformers import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from mlx_model import Sampler, SamplingParams
from mlx_model.sampling import (
    MAX_SEED,
    SAMPLING_LIMITS,
    _min_p,
    _top_k,
    _top_p,
    apply_repetition_penalty,
)

VOCAB = 2000


def random_logits(seed: int, vocab: int = VOCAB, scale: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((1, vocab)) * scale).astype(np.float32)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def kept(ours: mx.array) -> set[int]:
    return set(np.flatnonzero(np.isfinite(np.array(ours)[0])).tolist())


def kept_by(warper, scores: np.ndarray) -> set[int]:
    out = warper(torch.zeros((1, 1), dtype=torch.long), torch.from_numpy(scores.copy()))
    return set(np.flatnonzero(np.isfinite(out[0].numpy())).tolist())


def draw(sampler: Sampler, logits: np.ndarray, n: int) -> list[int]:
    x = mx.array(logits)
    return [sampler(x).item() for _ in range(n)]


def test_same_seed_gives_the_same_tokens():
    logits = random_logits(0, scale=1.0)
    params = SamplingParams(temperature=1.0, seed=1234)
    assert draw(Sampler(params), logits, 30) == draw(Sampler(params), logits, 30)


def test_different_seed_gives_different_tokens():
    logits = random_logits(0, scale=1.0)
    a = draw(Sampler(SamplingParams(temperature=1.0, seed=1)), logits, 30)
    b = draw(Sampler(SamplingParams(temperature=1.0, seed=2)), logits, 30)
    assert a != b


def test_draws_within_one_run_vary():
    # The key advances per draw; a stuck key would repeat one token on near-flat logits.
    logits = random_logits(0, scale=0.1)
    assert len(set(draw(Sampler(SamplingParams(temperature=1.0, seed=5)), logits, 30))) > 10


@pytest.mark.parametrize("seed", range(5))
def test_temperature_zero_is_argmax(seed):
    logits = random_logits(seed)
    token = Sampler(SamplingParams(temperature=0.0, seed=seed))(mx.array(logits))
    assert token.shape == (1,)
    assert token.item() == int(np.argmax(logits))


@pytest.mark.parametrize("k", [1, 5, 50, VOCAB, VOCAB + 10])
def test_top_k_keeps_what_transformers_keeps(k):
    scores = log_softmax(random_logits(k))
    ours = kept(_top_k(mx.array(scores), k))
    assert ours == kept_by(TopKLogitsWarper(top_k=k), scores)
    assert len(ours) == min(k, VOCAB)


@pytest.mark.parametrize("top_p", [0.01, 0.3, 0.9, 0.99])
@pytest.mark.parametrize("seed", [0, 1])
def test_top_p_keeps_what_transformers_keeps(top_p, seed):
    scores = log_softmax(random_logits(seed))
    ours = kept(_top_p(mx.array(scores), top_p))
    assert ours == kept_by(TopPLogitsWarper(top_p=top_p), scores)
    assert len(ours) >= 1


@pytest.mark.parametrize("min_p", [0.01, 0.1, 0.5, 0.95])
@pytest.mark.parametrize("seed", [0, 1])
def test_min_p_keeps_what_transformers_keeps(min_p, seed):
    scores = log_softmax(random_logits(seed))
    ours = kept(_min_p(mx.array(scores), min_p))
    assert ours == kept_by(MinPLogitsWarper(min_p=min_p), scores)


@pytest.mark.parametrize("penalty", [0.8, 1.3, 2.0])
def test_repetition_penalty_equals_transformers(penalty):
    logits = random_logits(7)
    # Repeats included: a token seen twice is penalized once, as in transformers.
    seen = [3, 17, 17, 400, 1999, 0, 3]
    ours = apply_repetition_penalty(mx.array(logits), mx.array(seen), penalty)
    theirs = RepetitionPenaltyLogitsProcessor(penalty=penalty)(
        torch.tensor([seen]), torch.from_numpy(logits.copy())
    )
    np.testing.assert_allclose(np.array(ours), theirs.numpy(), rtol=1e-6)


def test_repetition_penalty_changes_the_greedy_choice():
    logits = np.zeros((1, 8), dtype=np.float32)
    logits[0, 2], logits[0, 5] = 2.0, 1.5
    sampler = Sampler(SamplingParams(repetition_penalty=1.5))
    assert sampler(mx.array(logits)).item() == 2
    assert sampler(mx.array(logits), mx.array([2])).item() == 5


def test_sampled_tokens_stay_inside_top_k():
    logits = random_logits(3, scale=0.5)
    allowed = set(np.argsort(-logits[0])[:4].tolist())
    tokens = draw(Sampler(SamplingParams(temperature=1.5, top_k=4, seed=0)), logits, 200)
    assert set(tokens) <= allowed
    assert len(set(tokens)) == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": -0.1},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"top_k": -1},
        {"min_p": -0.1},
        {"min_p": 1.0},
        {"repetition_penalty": 0.0},
        {"repetition_context": 0},
    ],
)
def test_invalid_params_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        SamplingParams(**kwargs)


# Chi-square critical value for 7 degrees of freedom at p = 0.001 (a standard table value).
CHI2_7_DOF_P001 = 24.32


@pytest.mark.parametrize("temperature", [0.7, 1.0])
def test_temperature_sampling_follows_softmax(temperature):
    logits = np.array([[1.2, 0.4, -0.3, 0.9, -1.0, 0.0, 0.6, -0.5]], dtype=np.float32)
    n = 3000
    tokens = draw(Sampler(SamplingParams(temperature=temperature, seed=11)), logits, n)
    observed = np.bincount(tokens, minlength=8)
    expected = np.exp(log_softmax(logits / temperature)[0]) * n
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < CHI2_7_DOF_P001, (observed, expected.round(1))


def test_a_wrong_temperature_is_detected_by_the_same_check():
    # The check above has power: draws at temperature 1.0 fail against the 0.7 softmax.
    logits = np.array([[1.2, 0.4, -0.3, 0.9, -1.0, 0.0, 0.6, -0.5]], dtype=np.float32)
    n = 3000
    tokens = draw(Sampler(SamplingParams(temperature=1.0, seed=11)), logits, n)
    observed = np.bincount(tokens, minlength=8)
    expected = np.exp(log_softmax(logits / 0.7)[0]) * n
    assert float(((observed - expected) ** 2 / expected).sum()) > CHI2_7_DOF_P001


def test_sampler_draws_only_from_transformers_filter_chain():
    # transformers applies temperature, then top-k, top-p and min-p, in that order; so do we.
    from transformers import LogitsProcessorList, TemperatureLogitsWarper

    logits = random_logits(9, vocab=64, scale=1.5)
    chain = LogitsProcessorList(
        [
            TemperatureLogitsWarper(0.8),
            TopKLogitsWarper(top_k=20),
            TopPLogitsWarper(top_p=0.7),
            MinPLogitsWarper(min_p=0.05),
        ]
    )
    allowed = kept_by(chain, logits)
    params = SamplingParams(temperature=0.8, top_k=20, top_p=0.7, min_p=0.05, seed=3)
    tokens = set(draw(Sampler(params), logits, 400))
    assert tokens <= allowed
    # Each kept token holds over 10% of the renormalized mass here: 400 draws see them all.
    assert tokens == allowed


# -- SAMPLING_LIMITS: the one source of what each field accepts ---------------------------------


def test_every_sampling_field_has_a_limit():
    from dataclasses import fields

    assert [f.name for f in fields(SamplingParams)] == list(SAMPLING_LIMITS)
    assert all(limit.help for limit in SAMPLING_LIMITS.values())


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("temperature", 2.01),
        ("temperature", float("nan")),
        ("temperature", float("inf")),
        ("temperature", True),
        ("temperature", "0.7"),
        ("top_p", float("nan")),
        ("top_k", 2.5),
        ("top_k", float("inf")),
        ("min_p", 1.0),
        ("min_p", float("nan")),
        ("repetition_penalty", 2.5),
        ("repetition_penalty", float("-inf")),
        ("repetition_context", 0),
        ("seed", -1),
        ("seed", 2**63),
        ("seed", 1.5),
        ("seed", False),
    ],
)
def test_limit_rejects_out_of_range_values(name, bad):
    limit = SAMPLING_LIMITS[name]
    with pytest.raises(ValueError, match=re.escape(limit.expected)):
        limit.check(bad)
    with pytest.raises(ValueError, match=name):
        SamplingParams(**{name: bad})


def test_limit_normalises_integral_floats_and_ints():
    assert SAMPLING_LIMITS["top_k"].check(40.0) == 40
    assert type(SAMPLING_LIMITS["top_k"].check(40.0)) is int
    assert type(SAMPLING_LIMITS["temperature"].check(1)) is float
    assert SAMPLING_LIMITS["seed"].check(None) is None
    params = SamplingParams(top_k=40.0, temperature=1, seed=7.0)
    assert (type(params.top_k), type(params.temperature), type(params.seed)) == (int, float, int)


def test_limit_bounds_are_inclusive_or_open_as_documented():
    assert SAMPLING_LIMITS["temperature"].check(2.0) == 2.0
    assert SAMPLING_LIMITS["top_p"].check(1.0) == 1.0
    assert SAMPLING_LIMITS["repetition_penalty"].check(2.0) == 2.0
    assert SAMPLING_LIMITS["seed"].check(MAX_SEED) == MAX_SEED
    mx.random.key(MAX_SEED)  # the largest seed we accept is one MLX takes


def test_limit_expected_reads_as_a_range():
    assert SAMPLING_LIMITS["min_p"].expected == "a number in [0, 1)"
    assert SAMPLING_LIMITS["top_p"].expected == "a number in (0, 1]"
    assert SAMPLING_LIMITS["top_k"].expected == "a whole number ≥ 0"
    assert SAMPLING_LIMITS["seed"].expected.startswith("empty (none) or a whole number in [0, ")


def test_min_p_of_one_is_refused_before_generation():
    # It used to pass settings validation and then crash in the sampler.
    with pytest.raises(ValueError, match=r"min_p must be a number in \[0, 1\)"):
        SamplingParams(temperature=1.0, min_p=1.0)
