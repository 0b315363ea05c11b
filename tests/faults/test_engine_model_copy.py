"""Fault: copy.deepcopy(model) and pickle.dumps(model) raised "cannot pickle 'Dtype'"."""

from __future__ import annotations

import copy
import pickle

import mlx.core as mx
import numpy as np
import pytest

import mlx_model

TOKENS = [[128000, 9906, 11, 1917, 0]]


@pytest.fixture(scope="module")
def model(tiny_bf16):
    loaded, _ = mlx_model.load(tiny_bf16)
    return loaded


def logits(model) -> np.ndarray:
    return np.array(model(mx.array(TOKENS)).astype(mx.float32))


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_a_copied_model_computes_the_same_logits(model, clone):
    copied = clone(model)
    assert copied.compute_dtype == mx.bfloat16
    np.testing.assert_array_equal(logits(copied), logits(model))


def test_a_copy_has_its_own_weights(model):
    copied = copy.deepcopy(model)
    copied.model.norm.weight = copied.model.norm.weight * 0
    assert not np.array_equal(logits(copied), logits(model))
