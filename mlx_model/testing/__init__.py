"""Writers of tiny random-weight checkpoints and tokenizer files, for tests, benchmarks and the
app's demo. Nothing in the engine proper imports this package."""

from __future__ import annotations

from .checkpoint import LLAMA_3B_SHAPE, TINY_SHAPE, make_tiny_checkpoint, tiny_config_dict
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
    "make_tiny_checkpoint",
    "tiny_config_dict",
    "write_tokenizer_config",
    "write_tokenizer_json",
]
