"""llama-chat's engine: a Llama 3 decoder in MLX. Tokens in, tokens out; no chats, no screens."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx

from .config import ConfigError, ModelConfig, QuantSpec
from .finish import FinishReason
from .generate import GenerationEvent, GenerationStats, generate_all, prefill, stream_generate
from .kv_cache import CacheFileError, KVCache, packed_kv_decodes_slower
from .llama import Model
from .memory import MemoryEstimate, memory_needed
from .presets import LLAMA_3_2_3B
from .sampling import SAMPLING_LIMITS, Limit, Sampler, SamplingParams
from .tokenizer import TOKENIZER_FILES, StreamingDetokenizer, Tokenizer, TokenizerFileError
from .weights import INDEX_FILE as WEIGHTS_INDEX_FILE
from .weights import SINGLE_FILE as WEIGHTS_FILE
from .weights import WeightsError, load_model


def load(path: str | Path, *, dtype: mx.Dtype | None = None) -> tuple[Model, Tokenizer]:
    """Load a local checkpoint directory (bf16 or MLX-quantized) and its tokenizer.

    The tokenizer is checked against config.json before any weights are read. The stop ids
    come from config.json and generation_config.json when they name any.
    """
    path = Path(path)
    config_path = path / "config.json"
    config = ModelConfig.from_file(config_path)  # bounds-checked before anything is allocated
    tokenizer = Tokenizer.from_pretrained(path)
    _check_vocabulary(config, tokenizer, config_path)
    model = load_model(path, dtype=dtype)
    if model.config.eos_token_ids:
        tokenizer.eos_token_ids = list(
            dict.fromkeys([*model.config.eos_token_ids, tokenizer.eot_id])
        )
    return model, tokenizer


def _check_vocabulary(config: ModelConfig, tokenizer: Tokenizer, config_path: Path) -> None:
    # A smaller vocab lets the tokenizer produce ids past the embedding table (an out-of-bounds
    # read in prefill); a larger one lets the model produce ids no tokenizer can decode. The
    # published Llama 3.2 checkpoints match exactly, so any difference means mixed-up files.
    if config.vocab_size != tokenizer.vocab_size:
        raise ConfigError(
            f"{config_path} says vocab_size {config.vocab_size}, but the tokenizer "
            f"{tokenizer.source} has {tokenizer.vocab_size} tokens: the two files are from "
            "different models (or one is truncated); download the checkpoint again."
        )
    ids = [
        *config.eos_token_ids,
        *([config.bos_token_id] if config.bos_token_id is not None else []),
    ]
    bad = [i for i in ids if not 0 <= i < config.vocab_size]
    if bad:
        raise ConfigError(
            f"{config_path} (or generation_config.json): eos/bos token id {bad[0]} is outside "
            f"the vocabulary 0..{config.vocab_size - 1}; download the checkpoint again."
        )


__all__ = [
    "SAMPLING_LIMITS",
    "Limit",
    "LLAMA_3_2_3B",
    "TOKENIZER_FILES",
    "WEIGHTS_FILE",
    "WEIGHTS_INDEX_FILE",
    "CacheFileError",
    "ConfigError",
    "FinishReason",
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
    "packed_kv_decodes_slower",
    "prefill",
    "stream_generate",
]
