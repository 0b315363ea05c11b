"""Writers of tiny random-weight checkpoints and tokenizer files, and the converted SmolLM2
checkpoint (trained weights), for tests, benchmarks and the app's demo. Nothing in the engine
proper imports this package."""

from __future__ import annotations

from .checkpoint import LLAMA_3B_SHAPE, TINY_SHAPE, make_tiny_checkpoint, tiny_config_dict
from .gguf import convert_gguf, smollm2_checkpoint, smollm2_gguf_path
from .tokenizer_files import (
    LLAMA_3_2_CHAT_TEMPLATE,
    bpe_merges,
    write_tokenizer_config,
    write_tokenizer_json,
)

__all__ = [
    "LLAMA_3B_SHAPE",
    "LLAMA_3_2_CHAT_TEMPLATE",
    "TINY_SHAPE",
    "bpe_merges",
    "convert_gguf",
    "make_tiny_checkpoint",
    "smollm2_checkpoint",
    "smollm2_gguf_path",
    "tiny_config_dict",
    "write_tokenizer_config",
    "write_tokenizer_json",
]
