"""Prompt-lookup decoding leaves the output unchanged: greedy tokens, stop tokens and the
repetition penalty on a generated checkpoint, and the sampled distribution at temperature > 0
on a tiny-vocabulary model (chi-square against the exact probabilities)."""

from __future__ import annotations

import itertools
import json

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
from mlx_model.__main__ import main as generate_main
from mlx_model.config import ModelConfig
from mlx_model.lookup import ForwardCosts, LookupPolicy, LookupSteps, NgramIndex
from mlx_model.sampling import Sampler
from mlx_model.testing import tiny_config_dict
from tests.scripted import make_scripted_checkpoint


def test_ngram_index_proposes_what_followed_the_latest_trigram():
    index = NgramIndex([5, 6, 7, 1, 2, 5, 6, 7, 3, 4, 9, 5, 6, 7])
    assert index.propose(4) == [3, 4, 9, 5]  # the second "5 6 7", not the first
    assert index.propose(2) == [3, 4]


def test_ngram_index_falls_back_to_bigrams_and_updates_per_token():
    index = NgramIndex([8, 1, 2, 3, 9, 1, 2])
    assert index.propose(3) == [3, 9, 1]  # no earlier "9 1 2", but "1 2" is followed by 3
    index.extend([4])
    assert index.propose(3) == []  # "1 2 4", "2 4" never seen before


@pytest.fixture(scope="module")
def tiny(tiny_f32):
    return mlx_model.load(tiny_f32, dtype=mx.float32)


def run(model, tokenizer, prompt, **kwargs):
    tokens, _, final = mlx_model.generate_all(model, tokenizer, prompt, **kwargs)
    return tokens, final


# A prompt that repeats itself: random-weight models soon loop too, so drafts get accepted.
PROMPT = [128000, *([791, 4320, 374, 264, 1296, 13] * 4)]


def test_greedy_lookup_matches_plain_decoding_in_fewer_forwards(tiny):
    model, tokenizer = tiny
    plain, plain_final = run(model, tokenizer, PROMPT, max_tokens=40, stop_ids=[])
    fast, fast_final = run(model, tokenizer, PROMPT, max_tokens=40, stop_ids=[], prompt_lookup=True)
    assert fast == plain
    assert plain_final.stats.forwards == 40
    assert fast_final.stats.forwards < 40
    assert fast_final.finish_reason == plain_final.finish_reason == "length"


def test_repetition_penalty_gives_the_same_tokens_with_lookup(tiny):
    model, tokenizer = tiny
    sampling = mlx_model.SamplingParams(repetition_penalty=1.3, repetition_context=8)
    plain, _ = run(model, tokenizer, PROMPT, max_tokens=40, stop_ids=[], sampling=sampling)
    fast, _ = run(
        model, tokenizer, PROMPT, max_tokens=40, stop_ids=[], sampling=sampling, prompt_lookup=True
    )
    assert fast == plain
    # The penalty changes the answer, so the test would notice lookup ignoring it.
    assert plain != run(model, tokenizer, PROMPT, max_tokens=40, stop_ids=[])[0]


@pytest.fixture(scope="module")
def cycling(tmp_path_factory, tokenizer_model_path):
    """A scripted checkpoint that repeats 10 11 12 13 14 15 forever: every draft is right."""
    chain = {10: 11, 11: 12, 12: 13, 13: 14, 14: 15, 15: 10}
    path = make_scripted_checkpoint(tmp_path_factory.mktemp("cycle"), tokenizer_model_path, chain)
    return mlx_model.load(path, dtype=mx.float32)


CYCLE_PROMPT = [10, 11, 12, 13, 14, 15, 10]


def test_accepted_drafts_give_several_tokens_per_forward(cycling):
    model, tokenizer = cycling
    tokens, final = run(model, tokenizer, CYCLE_PROMPT, max_tokens=21, stop_ids=[])
    assert tokens == [11, 12, 13, 14, 15, 10] * 3 + [11, 12, 13]
    fast, fast_final = run(
        model, tokenizer, CYCLE_PROMPT, max_tokens=21, stop_ids=[], prompt_lookup=True
    )
    assert fast == tokens
    assert fast_final.stats.generation_tokens == final.stats.generation_tokens == 21
    assert fast_final.stats.forwards == 5  # the prefill, then four drafts of 4 accepted + 1


def test_a_stop_token_inside_an_accepted_run_ends_the_answer_there(cycling):
    model, tokenizer = cycling
    cache = model.make_cache()
    fast, final = run(
        model,
        tokenizer,
        CYCLE_PROMPT,
        max_tokens=40,
        stop_ids=[14],
        prompt_lookup=True,
        cache=cache,
    )
    # 11 comes from the prefill; 12 13 14 15 are one draft, accepted whole, cut at the stop.
    assert final.finish_reason == "stop"
    assert fast == [11, 12, 13]
    assert final.stats.forwards == 2
    # Like plain decoding, the cache holds what was fed (the stop too), nothing past it.
    assert cache.tokens == [*CYCLE_PROMPT, 11, 12, 13, 14]


def test_generate_cli_reports_forwards_with_draft_lookup(tiny_f32, capsys):
    ids = ",".join(map(str, PROMPT))
    argv = ["--model", str(tiny_f32), "--prompt-ids", ids, "--max-tokens", "30", "--json"]
    assert generate_main([*argv, "--draft", "lookup"]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert generate_main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert fast["tokens"] == plain["tokens"]
    assert plain["forwards"] == len(plain["tokens"])
    assert fast["forwards"] < plain["forwards"]


# -- temperature > 0: speculative sampling keeps the target's distribution -------------------

VOCAB = 6
SAMPLES = 2000
# Every bigram (4, a) occurs followed by a token, so whatever a is sampled, a draft follows.
TINY_VOCAB_PROMPT = [0, *[t for a in range(VOCAB) for t in (4, a, (a + 2) % VOCAB)], 4]


@pytest.fixture(scope="module")
def tiny_vocab_model():
    shape = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 1,
        "num_attention_heads": 1,
        "num_key_value_heads": 1,
        "head_dim": 64,
    }
    data = {**tiny_config_dict(shape), "vocab_size": VOCAB, "bos_token_id": 0, "eos_token_id": 1}
    model = mlx_model.Model(ModelConfig.from_dict(data), compute_dtype=mx.float32)
    mx.random.seed(3)
    # A small embedding keeps every pair likely enough to count (36 cells, none rare) and the
    # drafts right about one time in seven, so both acceptance and rejection happen often.
    model.update({"model": {"embed_tokens": {"weight": mx.random.normal((VOCAB, 64)) * 0.05}}})
    mx.eval(model.parameters())
    return model


def exact_pair_probabilities(model, temperature: float) -> np.ndarray:
    """p(a, b) = p(a | prompt) p(b | prompt, a) by teacher forcing, (VOCAB, VOCAB)."""
    table = np.zeros((VOCAB, VOCAB))
    for a in range(VOCAB):
        logits = model(mx.array([[*TINY_VOCAB_PROMPT, a]]))[0, -2:].astype(mx.float32)
        probs = np.array(mx.softmax(logits / temperature, axis=-1))
        table[a] = probs[0, a] * probs[1]
    return table


def sampled_pairs(model, sampling) -> tuple[np.ndarray, int]:
    counts = np.zeros((VOCAB, VOCAB))
    drafted_forwards = 0
    for seed in range(SAMPLES):
        sampler = Sampler(sampling(seed))
        cache = model.make_cache()
        logits = mlx_model.prefill(model, cache, TINY_VOCAB_PROMPT)
        policy = LookupPolicy(ForwardCosts(fixed=0.0))  # always draft
        steps = LookupSteps(
            model, cache, sampler, logits, list(TINY_VOCAB_PROMPT), max_tokens=3, policy=policy
        )
        a, b, _ = list(steps)
        counts[a, b] += 1
        drafted_forwards += policy.draft_forwards
    return counts, drafted_forwards


def chi_square(counts: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    expected = probs.ravel() * counts.sum()
    keep = expected > 5  # pool the rare cells, as the test's approximation needs
    observed, rare = counts.ravel()[keep], counts.ravel()[~keep]
    if rare.size:
        observed, expected = (
            np.append(observed, rare.sum()),
            np.append(expected[keep], expected[~keep].sum()),
        )
    else:
        expected = expected[keep]
    return float(((observed - expected) ** 2 / expected).sum()), len(observed) - 1


# Upper 0.1% points of chi-square, by degrees of freedom (scipy.stats.chi2.ppf(0.999, df)).
CHI2_999 = {df: v for df, v in zip(itertools.count(10), [
    29.59, 31.26, 32.91, 34.53, 36.12, 37.70, 39.25, 40.79, 42.31, 43.82, 45.31, 46.80, 48.27,
    49.73, 51.18, 52.62, 54.05, 55.48, 56.89, 58.30, 59.70, 61.10, 62.49, 63.87, 65.25, 66.62,
    67.99, 69.35, 70.70,
])}  # fmt: skip


def test_sampling_with_lookup_keeps_the_target_distribution(tiny_vocab_model):
    def sampling(seed: int):
        return mlx_model.SamplingParams(temperature=1.0, seed=seed)

    counts, drafted = sampled_pairs(tiny_vocab_model, sampling)
    probs = exact_pair_probabilities(tiny_vocab_model, 1.0)
    assert drafted >= SAMPLES  # every run verified a draft: the acceptance rule was exercised
    stat, df = chi_square(counts, probs)
    assert stat < CHI2_999[df], f"chi-square {stat:.1f} with {df} degrees of freedom"
