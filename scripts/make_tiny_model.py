"""Write a random-weight Llama 3.2 checkpoint for tests, demos and benchmarks.

    python scripts/make_tiny_model.py --out /tmp/tiny                 # bf16, tiny shape
    python scripts/make_tiny_model.py --out /tmp/tiny4 --bits 4       # MLX 4-bit
    python scripts/make_tiny_model.py --out /tmp/3b --shape 3b        # Llama 3.2 3B's shapes

The weights are random, so the text is meaningless; the shapes, file layout, tokenizer and
config are those of the real model. The 3B shape (6.4 GB in bf16) is written one layer at a
time into shards with an index, so it never needs more memory than one layer and the embedding.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

from mlx_model.config import ModelConfig  # noqa: E402
from mlx_model.llama import Model  # noqa: E402
from mlx_model.quantize import convert  # noqa: E402
from mlx_model.testing import (  # noqa: E402
    LLAMA_3B_SHAPE,
    TINY_SHAPE,
    make_tiny_checkpoint,
    tiny_config_dict,
    write_tokenizer_config,
    write_tokenizer_json,
)
from mlx_model.tokenizer import Tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOKENIZER = REPO / "assets" / "tokenizer.model"
SHAPES = {
    "tiny": TINY_SHAPE,
    "3b": LLAMA_3B_SHAPE,
    # The 3B's layers (attention heads, K/V heads, head size, MLP) but 2 of its 28: decode at long
    # context costs what one 3B layer costs, times 2, plus the full-size embedding and head.
    "3b-2layers": {**LLAMA_3B_SHAPE, "num_hidden_layers": 2},
}


def random_parameter(name: str, shape: tuple[int, ...], dtype: mx.Dtype) -> mx.array:
    # The same initialization as mlx_model.testing: norms around 1, matrices with std 0.02.
    if "norm" in name:
        return (mx.random.normal(shape) + 1.0).astype(dtype)
    return (mx.random.normal(shape) * 0.02).astype(dtype)


def shard_key(name: str) -> str:
    """Group tensors by decoder layer; the embedding and final norm go in their own shard."""
    parts = name.split(".")
    return f"layer-{int(parts[2]):03d}" if parts[1] == "layers" else "other"


def write_sharded_random_checkpoint(
    out_dir: str | Path,
    tokenizer_model: str | Path,
    *,
    shape: dict[str, int],
    dtype: mx.Dtype = mx.bfloat16,
    seed: int = 0,
) -> Path:
    """Write a random-weight checkpoint as one shard per layer plus model.safetensors.index.json.

    Each shard is generated, written and freed before the next, so peak memory is one layer (or
    the embedding) rather than the whole model.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config_dict = tiny_config_dict(shape)
    config = ModelConfig.from_dict(config_dict)
    # Only names and shapes are read from this model; its own lazy init is never evaluated.
    specs = tree_flatten(Model(config).parameters())
    groups: dict[str, list[tuple[str, tuple[int, ...]]]] = defaultdict(list)
    for name, param in specs:
        groups[shard_key(name)].append((name, tuple(param.shape)))

    mx.random.seed(seed)
    keys = sorted(groups)
    weight_map: dict[str, str] = {}
    total = 0
    for i, key in enumerate(keys):
        shard = f"model-{i + 1:05d}-of-{len(keys):05d}.safetensors"
        tensors = {}
        for name, param_shape in groups[key]:
            tensors[name] = random_parameter(name, param_shape, dtype)
            mx.eval(tensors[name])  # one f32 temporary at a time
        mx.save_safetensors(str(out / shard), tensors, metadata={"format": "mlx"})
        total += sum(t.nbytes for t in tensors.values())
        weight_map.update({name: shard for name in tensors})
        del tensors
        mx.clear_cache()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    (out / "config.json").write_text(json.dumps(config_dict, indent=2) + "\n")
    write_tokenizer_files(out, tokenizer_model, config_dict)
    return out


def write_tokenizer_files(out: Path, tokenizer_model: str | Path, config_dict: dict) -> None:
    """The tokenizer and generation files mlx_model.testing writes next to its weights."""
    (out / "generation_config.json").write_text(
        json.dumps(
            {
                "bos_token_id": config_dict["bos_token_id"],
                "eos_token_id": config_dict["eos_token_id"],
            }
        )
        + "\n"
    )
    (out / "original").mkdir(exist_ok=True)
    shutil.copy2(tokenizer_model, out / "original" / "tokenizer.model")
    write_tokenizer_json(Tokenizer.from_tiktoken_file(tokenizer_model), out / "tokenizer.json")
    write_tokenizer_config(out / "tokenizer_config.json")


def make_checkpoint(
    out: Path, *, shape_name: str, bits: int | None, tokenizer_model: Path, seed: int = 0
) -> Path:
    """A random checkpoint at ``out``: bf16, or quantized by our converter to ``bits``."""
    shape = SHAPES[shape_name]
    if shape_name == "tiny":
        return make_tiny_checkpoint(out, tokenizer_model, quant_bits=bits, seed=seed, shape=shape)
    if bits is None:
        return write_sharded_random_checkpoint(out, tokenizer_model, shape=shape, seed=seed)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        bf16 = write_sharded_random_checkpoint(
            Path(tmp) / "bf16", tokenizer_model, shape=shape, seed=seed
        )
        convert(bf16, out, bits)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--bits",
        type=int,
        choices=(4, 8),
        default=None,
        help="quantize with our converter (default: bf16)",
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument(
        "--tokenizer",
        type=Path,
        default=DEFAULT_TOKENIZER,
        help="Meta's tokenizer.model (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.tokenizer.is_file():
        print(
            f"error: tokenizer file {args.tokenizer} not found; pass --tokenizer PATH to "
            "Meta's tokenizer.model",
            file=sys.stderr,
        )
        return 1
    if args.out.exists() and any(args.out.iterdir()):
        print(f"error: {args.out} is not empty; choose a new --out directory", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    make_checkpoint(
        args.out,
        shape_name=args.shape,
        bits=args.bits,
        tokenizer_model=args.tokenizer,
        seed=args.seed,
    )
    size = sum(p.stat().st_size for p in args.out.glob("*.safetensors"))
    print(
        f"wrote {args.out} ({args.shape}, {args.bits or 16}-bit, {size / 1e9:.2f} GB) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
