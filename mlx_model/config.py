"""Model configuration read from a checkpoint's ``config.json``.

Every field the decoder uses is checked here, so a broken checkpoint fails at load time with a
message that names the field and the file, instead of deep inside a matmul. Numbers are also
bounded above (``MAX_*``): a config asking for a billion layers is refused at once, before any
memory is allocated. The bounds are an order of magnitude or more past any released Llama
(405B: 126 layers, hidden 16384, 128 heads, vocab 128256, 131072 positions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import MiB, read_json


class ConfigError(ValueError):
    """A checkpoint's config.json is missing a field or holds a value we cannot run."""


MAX_LAYERS = 1024
MAX_HIDDEN = 65536
MAX_INTERMEDIATE = 1 << 20
MAX_HEADS = 1024
MAX_HEAD_DIM = 1024
MAX_VOCAB = 1 << 20
MAX_POSITIONS = 1 << 24
MAX_ROPE_THETA = 1e12
MAX_ROPE_FACTOR = 1024.0
MAX_CONFIG_BYTES = 1 * MiB  # Llama 3's config.json is under 1 KiB; generation_config.json too


@dataclass(frozen=True)
class RopeScaling:
    """Llama 3 RoPE frequency scaling (the ``rope_type: llama3`` block)."""

    factor: float
    low_freq_factor: float
    high_freq_factor: float
    original_max_position_embeddings: int


@dataclass(frozen=True)
class QuantSpec:
    """MLX affine quantization of a checkpoint: default bits/group size, plus per-layer overrides.

    ``overrides`` maps a module path (``model.embed_tokens``) to ``(bits, group_size)``, or to
    ``None`` for a module that stays unquantized; this is the form mlx-lm writes and reads.
    """

    bits: int
    group_size: int
    overrides: dict[str, tuple[int, int] | None] = field(default_factory=dict)

    def for_module(self, path: str) -> tuple[int, int] | None:
        if path in self.overrides:
            return self.overrides[path]
        return (self.bits, self.group_size)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group_size": self.group_size, "bits": self.bits, "mode": "affine"}
        for path, spec in self.overrides.items():
            out[path] = False if spec is None else {"group_size": spec[1], "bits": spec[0]}
        return out


@dataclass(frozen=True)
class ModelConfig:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: RopeScaling | None
    tie_word_embeddings: bool
    max_position_embeddings: int
    eos_token_ids: tuple[int, ...]
    bos_token_id: int | None = None
    quantization: QuantSpec | None = None
    torch_dtype: str = "bfloat16"

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes of K and V per token across all layers at 16-bit precision."""
        return 2 * self.num_hidden_layers * self.num_key_value_heads * self.head_dim * 2

    @classmethod
    def from_file(cls, path: str | Path) -> ModelConfig:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"{path}: file not found; a checkpoint needs a config.json")
        data = _read_json(path)
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object at the top level")
        config = cls.from_dict(data, source=str(path))
        gen_path = path.with_name("generation_config.json")
        if gen_path.exists():
            gen = _read_json(gen_path)
            if isinstance(gen, dict) and gen.get("eos_token_id") is not None:
                extra = _token_ids(
                    gen["eos_token_id"], "eos_token_id", str(gen_path), config.vocab_size
                )
                merged = tuple(dict.fromkeys([*config.eos_token_ids, *extra]))
                config = _replace(config, eos_token_ids=merged)
        return config

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config.json") -> ModelConfig:
        """Build a config; unknown keys are ignored, every used key is type- and range-checked."""
        r = _Reader(data, source)
        model_type = data.get("model_type", "llama")
        if model_type != "llama":
            raise ConfigError(f"{source}: model_type is {model_type!r}; only 'llama' is supported")
        if data.get("hidden_act", "silu") != "silu":
            raise ConfigError(f"{source}: hidden_act {data['hidden_act']!r} is not supported")
        for flag in ("attention_bias", "mlp_bias"):
            if data.get(flag):
                raise ConfigError(f"{source}: {flag}=true is not supported by the Llama 3 decoder")

        hidden = r.positive_int("hidden_size", MAX_HIDDEN)
        heads = r.positive_int("num_attention_heads", MAX_HEADS)
        kv_heads = r.positive_int("num_key_value_heads", MAX_HEADS, default=heads)
        if heads % kv_heads:
            raise ConfigError(
                f"{source}: num_attention_heads ({heads}) must be a multiple of "
                f"num_key_value_heads ({kv_heads})"
            )
        head_dim = r.positive_int("head_dim", MAX_HEAD_DIM, default=max(hidden // heads, 1))
        if "head_dim" not in data and hidden % heads:
            raise ConfigError(f"{source}: hidden_size must be divisible by num_attention_heads")
        if head_dim % 2:
            raise ConfigError(f"{source}: head_dim must be even for RoPE, got {head_dim}")

        vocab = r.positive_int("vocab_size", MAX_VOCAB)
        rope_theta, rope_scaling = _read_rope(data, source)
        eos = (
            _token_ids(data.get("eos_token_id"), "eos_token_id", source, vocab)
            if (data.get("eos_token_id") is not None)
            else ()
        )
        bos = data.get("bos_token_id")
        if bos is not None:
            (bos,) = _token_ids(bos, "bos_token_id", source, vocab, single=True)

        return cls(
            hidden_size=hidden,
            num_hidden_layers=r.positive_int("num_hidden_layers", MAX_LAYERS),
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=head_dim,
            intermediate_size=r.positive_int("intermediate_size", MAX_INTERMEDIATE),
            vocab_size=vocab,
            rms_norm_eps=r.positive_float("rms_norm_eps", 1.0, default=1e-5),
            rope_theta=rope_theta,
            rope_scaling=rope_scaling,
            tie_word_embeddings=r.boolean("tie_word_embeddings", default=True),
            max_position_embeddings=r.positive_int(
                "max_position_embeddings", MAX_POSITIONS, default=131072
            ),
            eos_token_ids=eos,
            bos_token_id=bos,
            quantization=_read_quantization(data, source),
            torch_dtype=str(data.get("torch_dtype") or data.get("dtype") or "bfloat16"),
        )


def _replace(config: ModelConfig, **changes: Any) -> ModelConfig:
    from dataclasses import replace

    return replace(config, **changes)


class _Reader:
    def __init__(self, data: dict[str, Any], source: str):
        self.data = data
        self.source = source

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is None:
            raise ConfigError(f"{self.source}: required field {key!r} is missing")
        return default

    def positive_int(self, key: str, high: int, default: int | None = None) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= high:
            raise ConfigError(
                f"{self.source}: {key} must be a whole number from 1 to {high}, got {value!r}"
            )
        return value

    def positive_float(self, key: str, high: float, default: float | None = None) -> float:
        value = self._get(key, default)
        return _positive_float(value, key, high, self.source)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.source}: {key} must be true or false, got {value!r}")
        return value


def _read_json(path: Path) -> Any:
    try:
        return read_json(path, MAX_CONFIG_BYTES)
    except OSError as exc:  # missing, unreadable, or refused: a pipe, a device, too large
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


def _positive_float(value: Any, key: str, high: float, source: str) -> float:
    # json.loads reads NaN and Infinity; neither is a usable epsilon, theta or factor.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= high
    ):
        raise ConfigError(
            f"{source}: {key} must be a finite number in (0, {high:g}], got {value!r}"
        )
    return float(value)


def _token_ids(
    value: Any, key: str, source: str, vocab_size: int, single: bool = False
) -> tuple[int, ...]:
    """Token ids as a tuple; each must index the vocabulary, or stopping would never match."""
    items = [value] if single or not isinstance(value, list) else value
    if not items or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < vocab_size for v in items
    ):
        what = "a token id" if single else "a token id or a list of token ids"
        raise ConfigError(
            f"{source}: {key} must be {what} from 0 to {vocab_size - 1}, got {value!r}"
        )
    return tuple(items)


def _read_rope(data: dict[str, Any], source: str) -> tuple[float, RopeScaling | None]:
    # Meta's and mlx-community's configs carry rope_theta + rope_scaling; transformers v5 saves
    # a single rope_parameters block instead. Both describe the same frequencies.
    params = data.get("rope_parameters")
    if isinstance(params, dict) and "rope_theta" in params:
        theta = params["rope_theta"]
        scaling: dict[str, Any] | None = params
        where = "rope_parameters"
    else:
        theta = data.get("rope_theta", 10000.0)
        scaling = data.get("rope_scaling")
        where = "rope_scaling"
    theta = _positive_float(theta, "rope_theta", MAX_ROPE_THETA, source)
    if scaling is None:
        return float(theta), None
    if not isinstance(scaling, dict):
        raise ConfigError(f"{source}: {where} must be an object, got {scaling!r}")
    rope_type = scaling.get("rope_type", scaling.get("type"))
    if rope_type == "default" or rope_type is None and "factor" not in scaling:
        return float(theta), None
    if rope_type != "llama3":
        raise ConfigError(
            f"{source}: {where}.rope_type {rope_type!r} is not supported (only 'llama3')"
        )
    r = _Reader(scaling, f"{source} ({where})")
    low = r.positive_float("low_freq_factor", MAX_ROPE_FACTOR, default=1.0)
    high = r.positive_float("high_freq_factor", MAX_ROPE_FACTOR, default=4.0)
    if high <= low:
        # The smoothing between the two bands divides by their difference.
        raise ConfigError(
            f"{source}: {where}.high_freq_factor ({high}) must exceed low_freq_factor ({low})"
        )
    return float(theta), RopeScaling(
        factor=r.positive_float("factor", MAX_ROPE_FACTOR),
        low_freq_factor=low,
        high_freq_factor=high,
        original_max_position_embeddings=r.positive_int(
            "original_max_position_embeddings", MAX_POSITIONS, default=8192
        ),
    )


def _read_quantization(data: dict[str, Any], source: str) -> QuantSpec | None:
    block = data.get("quantization") or data.get("quantization_config")
    if block is None:
        return None
    if not isinstance(block, dict):
        raise ConfigError(f"{source}: quantization must be an object, got {block!r}")
    mode = block.get("mode", "affine")
    if mode != "affine":
        raise ConfigError(f"{source}: quantization mode {mode!r} is not supported (only 'affine')")
    bits = block.get("bits")
    group_size = block.get("group_size")
    _check_quant(bits, group_size, f"{source}: quantization")
    overrides: dict[str, tuple[int, int] | None] = {}
    for key, value in block.items():
        if key in ("bits", "group_size", "mode", "quant_method"):
            continue
        if value is False:
            overrides[key] = None
        elif isinstance(value, dict):
            _check_quant(
                value.get("bits"), value.get("group_size"), f"{source}: quantization.{key}"
            )
            overrides[key] = (value["bits"], value["group_size"])
    return QuantSpec(bits=bits, group_size=group_size, overrides=overrides)


def _check_quant(bits: Any, group_size: Any, where: str) -> None:
    # type() rather than ``in``: 8.0 == 8 and True == 1 would otherwise slip through.
    if type(bits) is not int or bits not in (2, 3, 4, 5, 6, 8):
        raise ConfigError(f"{where}.bits must be one of 2, 3, 4, 5, 6, 8, got {bits!r}")
    if type(group_size) is not int or group_size not in (32, 64, 128):
        raise ConfigError(f"{where}.group_size must be 32, 64 or 128, got {group_size!r}")
