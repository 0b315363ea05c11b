"""What running a model costs in memory: weights, the KV cache at a context length, and working
memory, computed from a ModelConfig alone (nothing is loaded or allocated).

The weight matrices are read off a one-layer decoder built from the same Model class (MLX
initializes parameters lazily, so building it allocates nothing), so this never re-describes the
architecture; every layer has the shapes of layer 0, so the cost of N layers is arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import mlx.nn as nn

from .config import ModelConfig, QuantSpec
from .generate import PREFILL_STEP
from .kv_cache import KV_GROUP_SIZE
from .llama import Model

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
RUNTIME_OVERHEAD_BYTES = 256 * 1024**2  # Python, MLX's allocator slack, the interface
_LAYER_PREFIX = "model.layers."
_LAYER_PATH = re.compile(r"model\.layers\.(\d+)\.")


@dataclass(frozen=True)
class MemoryEstimate:
    """What running a model costs in memory, in bytes."""

    weights_bytes: int
    kv_bytes: int
    """The KV cache when the whole context is in use."""
    working_bytes: int
    """Activations of one prefill chunk, logits, and runtime overhead."""
    quant_bits: int | None = None
    context_tokens: int = 0
    kv_bits: int | None = None

    @property
    def total(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.working_bytes


def memory_needed(
    config: ModelConfig, bits: int | None, context_tokens: int, kv_bits: int | None
) -> MemoryEstimate:
    """Memory to run ``config`` at ``bits`` (None: unquantized) with a full context.

    Weights: each matrix at ``bits/8`` bytes per entry plus a scale and a bias per group (MLX's
    affine quantization), using the checkpoint's own per-layer spec when it has one at these
    bits. KV: 2 (K and V) x layers x kv_heads x head_dim x bytes x tokens, where 8-bit KV also
    stores a scale and bias per group. 16-bit values take the checkpoint dtype's size.
    """
    unit = DTYPE_BYTES.get(config.torch_dtype, 2)
    if bits is None:
        spec = None
    elif config.quantization is not None and config.quantization.bits == bits:
        spec = config.quantization
    else:
        spec = QuantSpec(bits=bits, group_size=64)
    weights = _weights_bytes(config, spec, unit)

    per_position = config.num_key_value_heads * config.head_dim  # per layer, per K or V
    if kv_bits is None:
        kv_entry_bytes = per_position * unit
    else:
        kv_entry_bytes = per_position * kv_bits // 8 + (per_position // KV_GROUP_SIZE) * 2 * unit
    kv = 2 * config.num_hidden_layers * kv_entry_bytes * context_tokens

    chunk = min(PREFILL_STEP, max(context_tokens, 1))
    activations = chunk * (4 * config.hidden_size + 3 * config.intermediate_size) * 4
    logits = config.vocab_size * 4 * 2
    working = activations + logits + RUNTIME_OVERHEAD_BYTES
    return MemoryEstimate(weights, kv, working, bits, context_tokens, kv_bits)


def _weights_bytes(config: ModelConfig, spec: QuantSpec | None, unit: int) -> int:
    one_layer = Model(replace(config, num_hidden_layers=1, quantization=None))
    matrices: list[tuple[str, int, int]] = []  # (module path, output width, input width)
    vector_entries = 0  # RMSNorm weights: never quantized
    layer_vector_entries = 0
    for path, module in one_layer.named_modules():
        if isinstance(module, nn.Linear | nn.Embedding):  # what MLX's quantization replaces
            out_width, in_width = module.weight.shape
            matrices.append((path, out_width, in_width))
        elif isinstance(module, nn.RMSNorm):
            if path.startswith(_LAYER_PREFIX):
                layer_vector_entries += module.weight.size
            else:
                vector_entries += module.weight.size
    shared = [m for m in matrices if not m[0].startswith(_LAYER_PREFIX)]
    per_layer = [m for m in matrices if m[0].startswith(_LAYER_PREFIX)]

    def layer_bytes(index: int) -> int:
        return layer_vector_entries * unit + sum(
            _matrix_bytes(spec, _LAYER_PATH.sub(f"model.layers.{index}.", path, 1), out, inp, unit)
            for path, out, inp in per_layer
        )

    # Layers named in the spec's overrides are costed one by one; all others cost what layer 0
    # would without overrides, so the sum never loops over the layers themselves.
    layers = config.num_hidden_layers
    special = sorted(_layers_with_overrides(spec, layers))
    plain_index = next(i for i in range(len(special) + 1) if i not in special)
    plain = layer_bytes(plain_index) if plain_index < layers else 0
    total = vector_entries * unit + sum(
        _matrix_bytes(spec, path, out, inp, unit) for path, out, inp in shared
    )
    return total + plain * (layers - len(special)) + sum(layer_bytes(i) for i in special)


def _layers_with_overrides(spec: QuantSpec | None, layers: int) -> set[int]:
    if spec is None:
        return set()
    found = set()
    for path in spec.overrides:
        match = _LAYER_PATH.match(path + ".")
        if match and int(match.group(1)) < layers:
            found.add(int(match.group(1)))
    return found


def _matrix_bytes(
    spec: QuantSpec | None, path: str, out_width: int, in_width: int, unit: int
) -> int:
    layer = spec.for_module(path) if spec is not None else None
    if layer is not None and in_width % layer[1]:
        layer = None  # MLX leaves layers that do not split into whole groups unquantized
    if layer is None:
        return out_width * in_width * unit
    bits, group = layer
    return out_width * in_width * bits // 8 + out_width * (in_width // group) * 2 * unit
