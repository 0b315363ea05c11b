"""Tiny random-weight checkpoints with the real Llama 3.2 architecture and file layout.

Tests, the benchmark and the app's demo mode use these: vocab 128256, grouped-query attention,
Llama 3 RoPE scaling, tied embeddings, and the files an mlx-community repository holds. The
weights are random, so the text they produce is meaningless.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from ..config import ModelConfig
from ..llama import Model
from ..presets import LLAMA_3_2_3B
from ..quantize import quantize_model
from ..tokenizer import Tokenizer
from .tokenizer_files import tokenizer_json_text, write_tokenizer_config

TINY_SHAPE = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
}
# Llama 3.2 3B Instruct's exact shapes, for benchmarks.
LLAMA_3B_SHAPE = {name: getattr(LLAMA_3_2_3B, name) for name in TINY_SHAPE}


def tiny_config_dict(shape: dict[str, int] | None = None) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **(shape or TINY_SHAPE),
        "vocab_size": 128256,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "rope_scaling": {
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
            "rope_type": "llama3",
        },
        "max_position_embeddings": 131072,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 128000,
        "eos_token_id": [128001, 128008, 128009],
        "torch_dtype": "bfloat16",
    }


def make_tiny_checkpoint(
    out_dir: str | Path,
    tokenizer_model: str | Path,
    *,
    quant_bits: int | None = None,
    group_size: int = 64,
    dtype: mx.Dtype = mx.bfloat16,
    seed: int = 0,
    shape: dict[str, int] | None = None,
    config_overrides: dict | None = None,
    output_ids: Mapping[int, float] | None = None,
) -> Path:
    """Write a random-weight checkpoint to ``out_dir`` and return it.

    ``tokenizer_model`` is Meta's ``tokenizer.model``; it is copied to ``original/`` and also
    converted to ``tokenizer.json`` so Hugging Face tools (and mlx-lm) can read the checkpoint.

    ``output_ids`` (token id → bias) limits what the model can write to those ids, through its
    weights alone (see ``_mask_outputs``); a positive bias makes an id likelier than the others.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config_dict = tiny_config_dict(shape)
    if output_ids is not None:
        config_dict["tie_word_embeddings"] = False  # the head differs from the embedding
    config_dict["torch_dtype"] = {mx.float32: "float32", mx.float16: "float16"}.get(
        dtype, "bfloat16"
    )
    config_dict.update(config_overrides or {})
    config = ModelConfig.from_dict(config_dict)

    mx.random.seed(seed)
    model = Model(config, compute_dtype=dtype)
    params = [
        (
            name,
            (
                mx.random.normal(p.shape) * (1.0 if "norm" in name else 0.02)
                + (1.0 if "norm" in name else 0.0)
            ).astype(dtype),
        )
        for name, p in tree_flatten(model.parameters())
    ]
    model.load_weights(params)
    if output_ids is not None:
        _mask_outputs(model, output_ids, dtype)
    mx.eval(model.parameters())

    if quant_bits is not None:
        spec = quantize_model(model, quant_bits, group_size)
        config_dict["quantization"] = spec.to_dict()
        config_dict["quantization_config"] = spec.to_dict()
    weights = dict(tree_flatten(model.parameters()))
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "mlx"})
    (out / "config.json").write_text(json.dumps(config_dict, indent=2) + "\n")
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]}) + "\n"
    )
    (out / "original").mkdir(exist_ok=True)
    shutil.copy2(tokenizer_model, out / "original" / "tokenizer.model")
    (out / "tokenizer.json").write_text(_tokenizer_json(Path(tokenizer_model)), encoding="utf-8")
    write_tokenizer_config(out / "tokenizer_config.json")
    return out


_TOKENIZER_JSON: dict[bytes, str] = {}


def _tokenizer_json(tokenizer_model: Path) -> str:
    """tokenizer.json's text for a tokenizer.model, made once per file content: deriving 280K
    merges takes seconds, and every checkpoint a test run builds carries the same file."""
    key = hashlib.sha256(tokenizer_model.read_bytes()).digest()
    if key not in _TOKENIZER_JSON:
        _TOKENIZER_JSON.clear()  # one tokenizer at a time; the text is tens of MB
        _TOKENIZER_JSON[key] = tokenizer_json_text(Tokenizer.from_tiktoken_file(tokenizer_model))
    return _TOKENIZER_JSON[key]


ALWAYS_ON = 1.0
"""Value of hidden channel 0 in every token's embedding: it dominates the random rest."""
MASKED = -32.0
"""Head weight on channel 0 for ids that must never win."""


def _mask_outputs(model: Model, output_ids: Mapping[int, float], dtype: mx.Dtype) -> None:
    # Channel 0 of every embedding is a large constant and the layers' random weights are
    # small, so after the final norm channel 0 is large and positive at every position. A head
    # row with a large negative weight there gives that id a very low logit whatever the
    # context: no sampling setting can pick it. Allowed ids get their bias on that channel.
    embedding = model.model.embed_tokens.weight
    embedding[:, 0] = ALWAYS_ON
    head = model.lm_head.weight
    column = mx.full((head.shape[0],), MASKED)
    ids = mx.array(list(output_ids), dtype=mx.int32)
    column[ids] = mx.array(list(output_ids.values()), dtype=mx.float32)
    head[:, 0] = column.astype(dtype)
    model.model.embed_tokens.weight = embedding.astype(dtype)
    model.lm_head.weight = head
