"""Configurations of published models, for estimates and benchmarks made without a checkpoint."""

from __future__ import annotations

from .config import ModelConfig, RopeScaling

LLAMA_3_2_3B = ModelConfig(
    hidden_size=3072,
    num_hidden_layers=28,
    num_attention_heads=24,
    num_key_value_heads=8,
    head_dim=128,
    intermediate_size=8192,
    vocab_size=128256,
    rms_norm_eps=1e-5,
    rope_theta=500000.0,
    rope_scaling=RopeScaling(
        factor=32.0,
        low_freq_factor=1.0,
        high_freq_factor=4.0,
        original_max_position_embeddings=8192,
    ),
    tie_word_embeddings=True,
    max_position_embeddings=131072,
    eos_token_ids=(128001, 128008, 128009),
    bos_token_id=128000,
)
"""Llama 3.2 3B (Instruct has the same shapes), as in meta-llama's config.json, in bf16."""
