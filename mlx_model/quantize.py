"""MLX affine quantization of a bf16 model, saved in the layout mlx-community checkpoints use.

Each quantized layer stores ``.weight`` (packed uint32), ``.scales`` and ``.biases``; config.json
gains a ``quantization`` block (and the same block as ``quantization_config``). Layers whose
input width is not a multiple of the group size stay unquantized, as in mlx-lm. The tied
embedding is also the output head, so ``embed_bits`` can keep it at 8 bits in a 4-bit model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from .config import QuantSpec
from .llama import Model
from .weights import load_model

EMBEDDING_PATH = "model.embed_tokens"
HEAD_PATH = "lm_head"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "original/tokenizer.model",
    "tokenizer.model",
)


def quantize_model(
    model: Model, bits: int, group_size: int = 64, embed_bits: int | None = None
) -> QuantSpec:
    """Quantize ``model`` in place; returns the spec to record in config.json."""
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    if group_size not in (32, 64, 128):
        raise ValueError(f"group size must be 32, 64 or 128, got {group_size}")
    overrides: dict[str, tuple[int, int] | None] = {}

    def predicate(path: str, module: nn.Module) -> bool | dict:
        if not hasattr(module, "to_quantized"):
            return False
        if module.weight.shape[-1] % group_size:
            overrides[path] = None
            return False
        if embed_bits is not None and path in (EMBEDDING_PATH, HEAD_PATH):
            overrides[path] = (embed_bits, group_size)
            return {"bits": embed_bits, "group_size": group_size}
        return True

    nn.quantize(model, group_size=group_size, bits=bits, class_predicate=predicate)
    return QuantSpec(bits=bits, group_size=group_size, overrides=overrides)


def save_checkpoint(model: Model, config_dict: dict, out_dir: Path, source: Path) -> None:
    """Write model.safetensors + config.json and copy the tokenizer files next to them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = dict(tree_flatten(model.parameters()))
    mx.save_safetensors(str(out_dir / "model.safetensors"), weights, metadata={"format": "mlx"})
    (out_dir / "config.json").write_text(json.dumps(config_dict, indent=2) + "\n")
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, out_dir / name)


def logit_error(reference: Model, quantized: Model, tokens: list[int]) -> tuple[float, float]:
    """(max, mean) absolute difference of the two models' logits on ``tokens``."""
    ids = mx.array(tokens, dtype=mx.int32)[None]
    a = reference(ids).astype(mx.float32)
    b = quantized(ids).astype(mx.float32)
    diff = mx.abs(a - b)
    return diff.max().item(), diff.mean().item()


def convert(
    src: str | Path,
    dst: str | Path,
    bits: int,
    group_size: int = 64,
    embed_bits: int | None = None,
    probe_tokens: list[int] | None = None,
) -> dict:
    """Quantize the bf16 checkpoint at ``src`` into ``dst``; returns a small report."""
    src, dst = Path(src), Path(dst)
    model = load_model(src)
    if model.config.quantization is not None:
        raise ValueError(f"{src}: already quantized ({model.config.quantization.bits}-bit)")
    # Same activations for the reference as the quantized model will use on this device.
    reference = load_model(src) if probe_tokens else None
    spec = quantize_model(model, bits, group_size, embed_bits)
    config_dict = json.loads((src / "config.json").read_text(encoding="utf-8"))
    config_dict["quantization"] = spec.to_dict()
    config_dict["quantization_config"] = spec.to_dict()
    save_checkpoint(model, config_dict, dst, src)
    report = {
        "bits": bits,
        "group_size": group_size,
        "embed_bits": embed_bits,
        "size_bytes": (dst / "model.safetensors").stat().st_size,
        "source_bytes": sum(p.stat().st_size for p in src.glob("*.safetensors")),
    }
    if reference is not None:
        quantized = load_model(dst)
        report["logit_max_abs_err"], report["logit_mean_abs_err"] = logit_error(
            reference, quantized, probe_tokens
        )
    return report
