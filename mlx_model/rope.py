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
    """Per-pair rotation periods (1 / inverse frequency) in the form ``mx.fast.rope`` takes.

    Computed in float32 in the same order as transformers and mlx-lm, so all three round alike.
    """
    periods = theta ** (mx.arange(0, head_dim, 2, dtype=mx.float32) / head_dim)
    if scaling is None:
        return periods
    s = scaling
    low_freq_wavelen = s.original_max_position_embeddings / s.low_freq_factor
    high_freq_wavelen = s.original_max_position_embeddings / s.high_freq_factor
    wavelens = 2 * math.pi * periods
    scaled = mx.where(wavelens > low_freq_wavelen, periods * s.factor, periods)
    is_medium = (wavelens > high_freq_wavelen) & (wavelens < low_freq_wavelen)
    smooth = (s.original_max_position_embeddings / wavelens - s.low_freq_factor) / (
        s.high_freq_factor - s.low_freq_factor
    )
    smoothed = scaled / ((1 - smooth) / s.factor + smooth)
    return mx.where(is_medium, smoothed, scaled)


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
