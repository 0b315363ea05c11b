"""Rotary position embeddings with Llama 3 frequency scaling.

RoFormer (Su et al., 2021) rotary embeddings; Llama 3 stretches the low frequencies by
``factor`` and blends the band between ``low_freq_factor`` and ``high_freq_factor`` smoothly
(Meta's ``apply_scaling`` in llama-models). The scaled frequencies are computed once here and
handed to ``mx.fast.rope``.
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from .config import RopeScaling


def rope_periods(head_dim: int, theta: float, scaling: RopeScaling | None) -> mx.array:
    """Per-pair rotation periods (1 / inverse frequency) in the form ``mx.fast.rope`` takes."""
    exponents = [2 * i / head_dim for i in range(head_dim // 2)]
    periods = [theta**e for e in exponents]
    if scaling is not None:
        periods = [_scale_period(p, scaling) for p in periods]
    return mx.array(periods, dtype=mx.float32)


def _scale_period(period: float, s: RopeScaling) -> float:
    # Computed in float64 Python arithmetic so the result matches transformers' float32 tensors
    # after rounding, rather than accumulating float32 error of our own.
    wavelen = 2 * math.pi * period
    low_freq_wavelen = s.original_max_position_embeddings / s.low_freq_factor
    high_freq_wavelen = s.original_max_position_embeddings / s.high_freq_factor
    if wavelen < high_freq_wavelen:
        return period
    if wavelen > low_freq_wavelen:
        return period * s.factor
    smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (
        s.high_freq_factor - s.low_freq_factor
    )
    inv_freq = 1.0 / period
    return 1.0 / ((1 - smooth) * inv_freq / s.factor + smooth * inv_freq)


class Llama3RoPE(nn.Module):
    def __init__(self, head_dim: int, theta: float, scaling: RopeScaling | None):
        super().__init__()
        self.head_dim = head_dim
        # Leading underscore keeps the table out of parameters(): it is derived, never loaded.
        self._periods = rope_periods(head_dim, theta, scaling)

    def __call__(self, x: mx.array, offset: int = 0) -> mx.array:
        return mx.fast.rope(
            x,
            self.head_dim,
            traditional=False,
            base=None,
            scale=1.0,
            offset=offset,
            freqs=self._periods,
        )
