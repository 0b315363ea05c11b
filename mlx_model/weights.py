"""Checkpoint loading: safetensors (one file, or shards with an index) into a Model.

Every tensor is checked against the model before anything is loaded: a missing, unexpected,
misshapen or mistyped tensor is reported by name together with the file it came from (or should
have), and so is one holding NaN or infinity once its data is read. Every file is checked before
it is opened (regular files only, inside the checkpoint folder), so a named pipe or a link to
/dev/zero is refused instead of hanging or filling memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from .config import ModelConfig, QuantSpec
from .files import MiB, check_regular_file, read_json
from .llama import Model

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
# Tensors some exporters leave in that carry nothing we use.
_IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)
MAX_INDEX_BYTES = 16 * MiB  # the 405B index is about 100 KiB
MAX_WEIGHTS_BYTES = 1 << 50  # no size cap that means anything: mx.load maps tensors lazily
_FINITE_CHUNK = 1 << 22  # elements per slice of the NaN/infinity check
_FLOAT16 = {"float16": mx.float16, "bfloat16": mx.bfloat16}


class WeightsError(ValueError):
    """A checkpoint's tensors do not fit the model its config describes."""


def weight_files(checkpoint: Path) -> list[Path]:
    """The safetensors files of a checkpoint, in a stable order, after checking the index."""
    index_path = checkpoint / INDEX_FILE
    if os.path.lexists(index_path):
        try:
            index = read_json(index_path, MAX_INDEX_BYTES)
            weight_map = index["weight_map"]
        except OSError as exc:
            raise WeightsError(f"{index_path}: cannot read it ({exc.strerror or exc})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise WeightsError(f"{index_path}: not a valid safetensors index ({exc!r})") from None
        if not isinstance(weight_map, dict) or not weight_map:
            raise WeightsError(f"{index_path}: weight_map is empty or not an object")
        bad = [n for n in weight_map.values() if not _is_plain_name(n)]
        if bad:
            raise WeightsError(
                f"{index_path}: weight_map names {bad[0]!r}, which is not the name of a file "
                "in the checkpoint folder; the index is damaged or hostile"
            )
        names = sorted(set(weight_map.values()))
        missing = [n for n in names if not (checkpoint / n).is_file()]
        if missing:
            raise WeightsError(
                f"{index_path}: names shard(s) that do not exist: {', '.join(missing)}"
            )
        return [_inside(checkpoint, checkpoint / n) for n in names]
    single = checkpoint / SINGLE_FILE
    if os.path.lexists(single):
        return [_inside(checkpoint, single)]
    shards = sorted(checkpoint.glob("*.safetensors"))
    if not shards:
        raise WeightsError(f"{checkpoint}: no model.safetensors, no {INDEX_FILE}, no *.safetensors")
    return [_inside(checkpoint, shard) for shard in shards]


def _is_plain_name(name: object) -> bool:
    """A file name of the folder itself: no folder part, no way up, not absolute."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
    )


def _inside(checkpoint: Path, path: Path) -> Path:
    """``path`` if it (after symbolic links) is a file of the checkpoint; else WeightsError.

    A Hugging Face cache keeps each snapshot's files as links into the repository's ``blobs/``
    folder, so for a folder under ``snapshots/`` the repository folder is the boundary.
    """
    root = checkpoint.resolve()
    if root.parent.name == "snapshots":
        root = root.parent.parent
    target = path.resolve()
    if not target.is_relative_to(root):
        raise WeightsError(
            f"{path}: leads outside the checkpoint folder (to {target}); refusing to read it"
        )
    return path


def read_tensors(files: list[Path]) -> tuple[dict[str, mx.array], dict[str, Path]]:
    """Lazily map every tensor (mx.load does not read data until it is used)."""
    tensors: dict[str, mx.array] = {}
    origin: dict[str, Path] = {}
    for path in files:
        try:
            # mx.load would block on a named pipe, or read /dev/zero until memory runs out.
            check_regular_file(path, MAX_WEIGHTS_BYTES)
        except OSError as exc:
            raise WeightsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        try:
            part = mx.load(str(path))
        except Exception as exc:  # truncated headers and foreign files raise several types
            raise WeightsError(f"{path}: cannot read safetensors file ({exc})") from None
        for name, array in part.items():
            if name in tensors:
                raise WeightsError(f"{path}: tensor {name} also appears in {origin[name]}")
            tensors[name] = array
            origin[name] = path
    return tensors, origin


def apply_quantization(model: Model, spec: QuantSpec, tensors: dict[str, mx.array]) -> None:
    """Swap Linear/Embedding layers for quantized ones where the checkpoint has scales."""

    def predicate(path: str, module: nn.Module) -> bool | dict:
        if not hasattr(module, "to_quantized"):
            return False
        if f"{path}.scales" not in tensors:
            return False
        layer_spec = spec.for_module(path)
        if layer_spec is None:
            return False
        bits, group_size = layer_spec
        return {"bits": bits, "group_size": group_size}

    nn.quantize(model, group_size=spec.group_size, bits=spec.bits, class_predicate=predicate)


def check_tensors(
    model: Model, tensors: dict[str, mx.array], origin: dict[str, Path], checkpoint: Path
) -> None:
    expected = dict(tree_flatten(model.parameters()))
    for name in list(tensors):
        if name.endswith(_IGNORED_SUFFIXES):
            del tensors[name]
        elif name == "lm_head.weight" and model.config.tie_word_embeddings:
            # Some exports save the tied head anyway; it is the embedding.
            del tensors[name]
    missing = sorted(set(expected) - set(tensors))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        searched = ", ".join(sorted({p.name for p in origin.values()})) or "its safetensors files"
        raise WeightsError(f"{checkpoint}: missing tensor(s) {shown} (not in {searched})")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        name = unexpected[0]
        raise WeightsError(
            f"{origin[name]}: unexpected tensor {name}"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
        )
    stored_16 = _FLOAT16.get(model.config.torch_dtype)
    for name, want in expected.items():
        got = tensors[name]
        if got.shape != want.shape:
            raise WeightsError(
                f"{origin[name]}: tensor {name} has shape {tuple(got.shape)}, "
                f"expected {tuple(want.shape)} from config.json"
            )
        problem = _dtype_problem(got.dtype, want.dtype, stored_16)
        if problem:
            raise WeightsError(f"{origin[name]}: tensor {name} {problem}")


def _dtype_problem(got: mx.Dtype, want: mx.Dtype, stored_16: mx.Dtype | None) -> str | None:
    """Why a tensor stored as ``got`` cannot be a parameter of type ``want``, or None.

    Loading casts silently, so a relabelled header (BF16 read as F16 or I16) would load as
    other numbers. A float parameter must be stored as a float; a 16-bit one in the 16-bit type
    config.json's torch_dtype names (float32 is accepted: some exports keep norms in it); packed
    quantized weights exactly as the model packs them.
    """
    if not mx.issubdtype(want, mx.floating):
        if got != want:
            return f"is stored as {_name(got)}; packed quantized weights are {_name(want)}"
        return None
    if not mx.issubdtype(got, mx.floating):
        return (
            f"is stored as {_name(got)}, not a float type; the file is damaged or was "
            "relabelled, so download the checkpoint again"
        )
    if stored_16 is not None and got in _FLOAT16.values() and got != stored_16:
        return (
            f"is stored as {_name(got)}, but config.json says torch_dtype {_name(stored_16)}; "
            "the file is damaged or was relabelled, so download the checkpoint again"
        )
    return None


def check_finite(model: Model, origin: dict[str, Path], checkpoint: Path) -> None:
    """Refuse a float parameter holding NaN or infinity (as loaded, after any cast): it would
    turn every answer into the same garbage token instead of failing."""
    for name, array in tree_flatten(model.parameters()):
        if mx.issubdtype(array.dtype, mx.floating) and not _all_finite(array):
            where = origin.get(name, checkpoint)
            raise WeightsError(
                f"{where}: tensor {name} holds NaN or infinite values (as {_name(array.dtype)}); "
                "the checkpoint is damaged, so download it again"
            )


def _all_finite(array: mx.array) -> bool:
    # In slices, so the check's temporaries stay small next to the weights themselves.
    flat = array.reshape(-1)
    return all(
        mx.all(mx.isfinite(flat[start : start + _FINITE_CHUNK])).item()
        for start in range(0, flat.size, _FINITE_CHUNK)
    )


def _name(dtype: mx.Dtype) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def choose_compute_dtype(config: ModelConfig, tensors: dict[str, mx.array]) -> mx.Dtype:
    """Activation precision for this device.

    Measured with MLX 0.32 on a CPU: quantized matmul runs ~9x faster with float32 activations
    than with bfloat16 (dense bf16 is on par with float32), and the stored bf16 scales can stay as
    they are, so weights cost no extra memory. Metal and CUDA want 16-bit activations.
    """
    on_cpu = mx.default_device() == mx.cpu
    if config.quantization is not None:
        scales = next((t for n, t in tensors.items() if n.endswith(".scales")), None)
        if on_cpu:
            return mx.float32
        return scales.dtype if scales is not None else mx.bfloat16
    weight = tensors.get("model.embed_tokens.weight")
    return weight.dtype if weight is not None else mx.bfloat16


def load_model(checkpoint: str | Path, dtype: mx.Dtype | None = None) -> Model:
    """Build a Model from a checkpoint directory; ``dtype`` forces one float precision."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_dir():
        raise WeightsError(f"{checkpoint}: not a directory")
    config = ModelConfig.from_file(checkpoint / "config.json")
    tensors, origin = read_tensors(weight_files(checkpoint))
    compute_dtype = dtype or choose_compute_dtype(config, tensors)
    model = Model(config, compute_dtype=compute_dtype)
    if config.quantization is not None:
        apply_quantization(model, config.quantization, tensors)
    check_tensors(model, tensors, origin, checkpoint)

    def cast(name: str, array: mx.array) -> mx.array:
        if not mx.issubdtype(array.dtype, mx.floating):
            return array  # packed quantized weights
        if dtype is not None:
            return array.astype(dtype)
        if name.endswith((".scales", ".biases")) or array.ndim == 2:
            return array  # stored precision: no second copy of the big tensors
        return array.astype(compute_dtype)  # norms: tiny, and must match the activations

    model.load_weights([(n, cast(n, a)) for n, a in tensors.items()], strict=True)
    try:
        mx.eval(model.parameters())
    except Exception as exc:  # a file cut short surfaces only when its data is read
        files = ", ".join(sorted({str(p) for p in origin.values()}))
        raise WeightsError(f"cannot read tensor data from {files} ({exc})") from None
    check_finite(model, origin, checkpoint)
    model.eval()
    return model
