"""Fault: top-k followed by top-p kept more tokens than transformers' chain does.

transformers re-normalises after top-k (its top-p warper takes a softmax of the filtered
scores); we computed top-p on the mass before top-k, so top-p let through a second token.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from transformers import LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper

from mlx_model import Sampler, SamplingParams


def transformers_kept(logits: np.ndarray, top_k: int, top_p: float) -> set[int]:
    chain = LogitsProcessorList([TopKLogitsWarper(top_k=top_k), TopPLogitsWarper(top_p=top_p)])
    out = chain(torch.zeros((1, 1), dtype=torch.long), torch.from_numpy(logits.copy()))
    return set(np.flatnonzero(np.isfinite(out[0].numpy())).tolist())


def sampled(logits: np.ndarray, top_k: int, top_p: float, n: int = 300) -> set[int]:
    sampler = Sampler(SamplingParams(temperature=1.0, top_k=top_k, top_p=top_p, seed=0))
    x = mx.array(logits)
    return {sampler(x).item() for _ in range(n)}


def test_top_k_then_top_p_renormalises_like_transformers():
    logits = np.log(np.array([[0.4, 0.3, 0.2, 0.1]], dtype=np.float32))
    assert transformers_kept(logits, top_k=2, top_p=0.5) == {0}
    assert sampled(logits, top_k=2, top_p=0.5) == {0}


@pytest.mark.parametrize(("top_k", "top_p"), [(3, 0.6), (5, 0.8), (8, 0.5)])
def test_top_k_then_top_p_draws_only_what_transformers_keeps(top_k, top_p):
    logits = (np.random.default_rng(top_k).standard_normal((1, 16)) * 1.5).astype(np.float32)
    allowed = transformers_kept(logits, top_k, top_p)
    assert sampled(logits, top_k, top_p) <= allowed
