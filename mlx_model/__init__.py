"""llama-chat's engine: a Llama 3 decoder in MLX. Tokens in, tokens out; no chats, no screens."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx

from .config import ConfigError, ModelConfig, QuantSpec
from .kv_cache import CacheFileError, KVCache
from .llama import Model
from .memory import MemoryEstimate, memory_needed
from .presets import LLAMA_3_2_3B
from .sampling import Sampler, SamplingParams
from .tokenizer import TOKENIZER_FILES, StreamingDetokenizer, Tokenizer, TokenizerFileError
from .weights import INDEX_FILE as WEIGHTS_INDEX_FILE
from .weights import SINGLE_FILE as WEIGHTS_FILE
from .weights import WeightsError, load_model

_GENERATE_NAMES = (
    "GenerationEvent",
    "GenerationStats",
    "generate_all",
    "prefill",
    "stream_generate",
)


def __getattr__(name: str):
    # Imported on first use, so `python -m mlx_model.generate` runs that module exactly once.
    if name in _GENERATE_NAMES:
        from . import generate

        return getattr(generate, name)
    raise AttributeError(f"module 'mlx_model' has no attribute {name!r}")


def load(path: str | Path, *, dtype: mx.Dtype | None = None) -> tuple[Model, Tokenizer]:
    """Load a local checkpoint directory (bf16 or MLX-quantized) and its tokenizer.

    The stop ids come from config.json and generation_config.json when they name any.
    """
    model = load_model(path, dtype=dtype)
    tokenizer = Tokenizer.from_pretrained(path)
    if model.config.eos_token_ids:
        tokenizer.eos_token_ids = list(
            dict.fromkeys([*model.config.eos_token_ids, tokenizer.eot_id])
        )
    return model, tokenizer


__all__ = [
    "LLAMA_3_2_3B",
    "TOKENIZER_FILES",
    "WEIGHTS_FILE",
    "WEIGHTS_INDEX_FILE",
    "CacheFileError",
    "ConfigError",
    "GenerationEvent",
    "GenerationStats",
    "KVCache",
    "MemoryEstimate",
    "Model",
    "ModelConfig",
    "QuantSpec",
    "Sampler",
    "SamplingParams",
    "StreamingDetokenizer",
    "Tokenizer",
    "TokenizerFileError",
    "WeightsError",
    "generate_all",
    "load",
    "load_model",
    "memory_needed",
    "prefill",
    "stream_generate",
]
