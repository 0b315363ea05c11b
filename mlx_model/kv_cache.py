"""The key/value cache: per-layer K and V in preallocated unified memory.

Buffers grow in steps of ``STEP`` tokens so a long answer costs a handful of reallocations, not
one per token. K/V are stored un-repeated (grouped-query attention shares each KV head between
several query heads), so the cache costs 2 x layers x kv_heads x head_dim x bytes per token.
With ``kv_bits`` the K/V stay packed (mlx-lm's QuantizedKVCache layout: uint32 words plus a
scale and a bias per group) and attention reads them packed, so 8-bit K/V save memory and
bandwidth on every step, not only at rest.

The token ids the cache holds are its one counter: a forward pass writes K/V at ``offset``
(the number of committed tokens), and ``commit`` makes those positions count. Positions written
but never committed (a step queued ahead, then cancelled) are simply overwritten later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import mlx.core as mx

from .config import ModelConfig

STEP = 256
KV_GROUP_SIZE = 64
FORMAT_VERSION = "2"

KV = mx.array | tuple[mx.array, mx.array, mx.array]
"""A layer's keys or values: one array, or (packed uint32, scales, biases) when quantized."""


def packed_kv_decodes_slower() -> bool:
    """Whether 8-bit K/V make each decode step slower here, not only smaller: MLX's CPU backend
    runs the packed attention (quantized_matmul) behind the fused full-precision kernel."""
    return mx.default_device() == mx.cpu


class CacheFileError(Exception):
    """A saved cache file is unreadable, corrupt, or belongs to another model."""


class _LayerKV:
    """One layer's keys and values, ``(1, kv_heads, capacity, width)``."""

    def __init__(self, bits: int | None):
        self.bits = bits
        self.keys: KV | None = None
        self.values: KV | None = None
        self.capacity = 0

    def _grow(self, needed: int, like: mx.array, length: int) -> None:
        new_capacity = (needed + STEP - 1) // STEP * STEP
        _, kv_heads, _, head_dim = like.shape

        def empty(width: int, dtype: mx.Dtype) -> mx.array:
            return mx.zeros((1, kv_heads, new_capacity, width), dtype=dtype)

        def fresh() -> KV:
            if self.bits is None:
                return empty(head_dim, like.dtype)
            groups = head_dim // KV_GROUP_SIZE
            packed = empty(head_dim * self.bits // 32, mx.uint32)
            return (packed, empty(groups, like.dtype), empty(groups, like.dtype))

        def grown(old: KV | None) -> KV:
            new = fresh()
            if old is None:
                return new
            if isinstance(old, tuple):
                return tuple(
                    mx.concatenate([o[..., :length, :], f[..., length:, :]], axis=2)
                    for o, f in zip(old, new, strict=True)
                )
            return mx.concatenate([old[..., :length, :], new[..., length:, :]], axis=2)

        self.keys, self.values = grown(self.keys), grown(self.values)
        self.capacity = new_capacity

    def update_and_fetch(self, keys: mx.array, values: mx.array, offset: int) -> tuple[KV, KV]:
        """Write ``keys``/``values`` at ``offset``; return every position up to their end."""
        end = offset + keys.shape[2]
        if end > self.capacity:
            self._grow(end, keys, offset)
        if self.bits is None:
            self.keys[..., offset:end, :] = keys
            self.values[..., offset:end, :] = values
            return self.keys[..., :end, :], self.values[..., :end, :]
        for store, new in ((self.keys, keys), (self.values, values)):
            parts = mx.quantize(new, group_size=KV_GROUP_SIZE, bits=self.bits)
            for buffer, part in zip(store, parts, strict=True):
                buffer[..., offset:end, :] = part
        return (
            tuple(part[..., :end, :] for part in self.keys),
            tuple(part[..., :end, :] for part in self.values),
        )

    def arrays(self, length: int) -> list[mx.array]:
        """K parts then V parts, the first ``length`` positions of each."""
        parts: list[mx.array] = []
        for store in (self.keys, self.values):
            if store is not None:
                parts += [
                    p[..., :length, :] for p in (store if isinstance(store, tuple) else (store,))
                ]
        return parts

    def set_arrays(self, parts: list[mx.array], length: int) -> None:
        half = len(parts) // 2
        k, v = parts[:half], parts[half:]
        self.keys = tuple(k) if self.bits else k[0]
        self.values = tuple(v) if self.bits else v[0]
        self.capacity = length

    @property
    def nbytes(self) -> int:
        return sum(part.nbytes for part in self.arrays(self.capacity))


class KVCache:
    """K/V for every layer of one model, plus the token ids they were computed from."""

    def __init__(self, num_layers: int, kv_bits: int | None = None):
        if kv_bits not in (None, 4, 8):
            raise ValueError(f"kv_bits must be None, 4 or 8, got {kv_bits!r}")
        self.kv_bits = kv_bits
        self.layers = [_LayerKV(kv_bits) for _ in range(num_layers)]
        self._tokens: list[int] = []

    @property
    def tokens(self) -> list[int]:
        """The committed token ids, oldest first (a copy: only ``commit`` and ``trim_to`` change
        what the cache holds)."""
        return list(self._tokens)

    @property
    def length(self) -> int:
        """Number of committed positions whose K/V are held."""
        return len(self._tokens)

    @property
    def offset(self) -> int:
        """Where the next forward pass writes its K/V (and its RoPE position)."""
        return len(self._tokens)

    def update_and_fetch(self, layer: int, keys: mx.array, values: mx.array) -> tuple[KV, KV]:
        # (1, kv_heads, L, head_dim) in; (1, kv_heads, offset + L, width) out, packed or not
        return self.layers[layer].update_and_fetch(keys, values, self.offset)

    def attention_mask(self, length: int) -> str | None:
        """What ``length`` new queries may see: "causal" aligns them with the last ``length``
        keys, which is what a chunk appended to the cache needs; one query sees everything."""
        return "causal" if length > 1 else None

    def commit(self, token_ids: Sequence[int]) -> None:
        """Record ``token_ids`` as held, once the forward pass that wrote their K/V is queued.

        In the decode loop a token is fed to the model before its value reaches the host, so
        the model cannot commit it; the generator does, as soon as the value is known.
        """
        end = self.offset + len(token_ids)
        if self.layers and end > self.layers[0].capacity:
            raise ValueError(f"cannot commit {len(token_ids)} tokens: no K/V written for them")
        self._tokens.extend(int(t) for t in token_ids)

    def trim_to(self, n: int) -> None:
        """Roll back to the first ``n`` tokens; the buffers stay allocated for reuse."""
        if not 0 <= n <= self.length:
            raise ValueError(f"cannot trim a cache of {self.length} tokens to {n}")
        del self._tokens[n:]

    def common_prefix(self, token_ids: Sequence[int]) -> int:
        n = 0
        for held, wanted in zip(self._tokens, token_ids, strict=False):
            if held != wanted:
                break
            n += 1
        return n

    @property
    def nbytes(self) -> int:
        return sum(layer.nbytes for layer in self.layers)

    def state(self) -> list[mx.array]:
        return [a for layer in self.layers for a in layer.arrays(self.length)]

    # -- persistence -----------------------------------------------------------------------

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> None:
        """Write K/V and token ids to a safetensors file (the caller renames it into place).

        The header holds a sha256 over the token list and every tensor's name, dtype, shape and
        bytes in a fixed order, so a flipped byte, a relabelled dtype or swapped tensors fail
        ``load`` instead of changing the next answer.
        """
        arrays = {
            name: part
            for i, layer in enumerate(self.layers)
            for name, part in zip(
                _layer_names(i, self.kv_bits), layer.arrays(self.length), strict=True
            )
        }
        header = {
            "format": FORMAT_VERSION,
            "num_layers": str(len(self.layers)),
            "kv_bits": str(self.kv_bits or 0),
            "length": str(self.length),
            "tokens": json.dumps(self._tokens),
        }
        meta = {**(metadata or {}), **header}
        meta["sha256"] = _digest(header, arrays, _all_names(len(self.layers), self.kv_bits))
        mx.save_safetensors(str(path), arrays, metadata=meta)

    @classmethod
    def load(cls, path: str | Path, config: ModelConfig) -> tuple[KVCache, dict[str, str]]:
        """Read a file written by ``save`` for a model of ``config``; a stale, foreign or
        damaged one raises CacheFileError (delete it and prefill again)."""
        try:
            arrays, meta = mx.load(str(path), return_metadata=True)
        except Exception as exc:  # mx.load raises several types for truncated or foreign files
            raise CacheFileError(f"{path}: unreadable cache file ({exc})") from None
        try:
            return cls._from_arrays(path, arrays, meta, config), meta
        except (KeyError, ValueError, TypeError) as exc:
            raise CacheFileError(f"{path}: malformed cache file ({exc!r})") from None

    @classmethod
    def _from_arrays(
        cls, path: str | Path, arrays: dict[str, mx.array], meta: dict[str, str], cfg: ModelConfig
    ) -> KVCache:
        if meta.get("format") != FORMAT_VERSION:
            raise CacheFileError(f"{path}: cache format {meta.get('format')!r} is not ours")
        num_layers = int(meta["num_layers"])
        kv_bits = int(meta["kv_bits"]) or None
        length = int(meta["length"])
        if num_layers != cfg.num_hidden_layers:
            raise CacheFileError(
                f"{path}: saved for {num_layers} layers, model has {cfg.num_hidden_layers}"
            )
        if kv_bits not in (None, 4, 8):
            raise CacheFileError(f"{path}: kv_bits {kv_bits} is not 4 or 8")
        tokens = _checked_tokens(path, meta["tokens"], length, cfg.vocab_size)
        names = _all_names(num_layers, kv_bits)
        if sorted(arrays) != sorted(names):
            raise CacheFileError(
                f"{path}: tensor names are not those of a {num_layers}-layer cache"
            )
        header = {k: meta[k] for k in ("format", "num_layers", "kv_bits", "length", "tokens")}
        if _digest(header, arrays, names) != meta.get("sha256"):
            raise CacheFileError(f"{path}: contents do not match their sha256 hash; file damaged")
        cache = cls(num_layers, kv_bits)
        for i, layer in enumerate(cache.layers):
            parts = [arrays[name] for name in _layer_names(i, kv_bits)]
            _check_layer(path, i, parts, length, cfg, kv_bits)
            layer.set_arrays(parts, length)
        cache._tokens = tokens
        return cache


def _layer_names(layer: int, kv_bits: int | None) -> list[str]:
    parts = ["weight"] if kv_bits is None else ["packed", "scales", "biases"]
    return [f"layer.{layer}.{kv}.{p}" for kv in ("keys", "values") for p in parts]


def _all_names(num_layers: int, kv_bits: int | None) -> list[str]:
    return [name for i in range(num_layers) for name in _layer_names(i, kv_bits)]


def _digest(header: dict[str, str], arrays: dict[str, mx.array], names: list[str]) -> str:
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for name in names:
        a = arrays[name]
        h.update(f"\n{name} {a.dtype} {a.shape}\n".encode())
        h.update(bytes(memoryview(mx.contiguous(a))))
    return h.hexdigest()


def _checked_tokens(path: str | Path, text: str, length: int, vocab_size: int) -> list[int]:
    tokens = json.loads(text)
    if (
        not isinstance(tokens, list)
        or len(tokens) != length
        or not all(type(t) is int and 0 <= t < vocab_size for t in tokens)
    ):
        raise CacheFileError(
            f"{path}: token list is not {length} token ids below {vocab_size}; file damaged"
        )
    return tokens


def _check_layer(
    path: str | Path,
    i: int,
    parts: list[mx.array],
    length: int,
    cfg: ModelConfig,
    kv_bits: int | None,
) -> None:
    for part in parts:
        if part.ndim != 4 or part.shape[:3] != (1, cfg.num_key_value_heads, length):
            raise CacheFileError(f"{path}: layer {i} has shape {part.shape}")
    widths = [part.shape[3] for part in parts]
    if widths != _part_widths(cfg.head_dim, kv_bits):
        raise CacheFileError(
            f"{path}: layer {i} was saved for another head_dim "
            f"(widths {widths}, model has head_dim {cfg.head_dim})"
        )
    floats = parts if kv_bits is None else [parts[1], parts[2], parts[4], parts[5]]
    if kv_bits is not None and not (parts[0].dtype == parts[3].dtype == mx.uint32):
        raise CacheFileError(f"{path}: layer {i} packed K/V are not uint32")
    for part in floats:
        if not mx.issubdtype(part.dtype, mx.floating):
            raise CacheFileError(f"{path}: layer {i} holds {part.dtype} where floats belong")
        if part.size and not mx.all(mx.isfinite(part)).item():
            raise CacheFileError(f"{path}: layer {i} holds NaN or infinite values")


def _part_widths(head_dim: int, kv_bits: int | None) -> list[int]:
    """Last-axis widths of one layer's saved arrays: K, V, or packed K, scales, biases, V, ..."""
    if kv_bits is None:
        return [head_dim, head_dim]
    groups = head_dim // KV_GROUP_SIZE
    return [head_dim * kv_bits // 32, groups, groups] * 2


def quantized_attention(
    queries: mx.array,
    keys: tuple[mx.array, mx.array, mx.array],
    values: tuple[mx.array, mx.array, mx.array],
    scale: float,
    bits: int,
) -> mx.array:
    """Attention over packed K/V without dequantizing them (mlx-lm's
    quantized_scaled_dot_product_attention): two quantized matmuls around a softmax.

    queries (B, H, L, D); keys/values packed (B, kv_heads, S, ·). The L queries are the last L
    positions, so for L > 1 each sees the keys up to its own position.
    """
    B, n_heads, L, D = queries.shape
    n_kv_heads = keys[0].shape[1]
    n_rep = n_heads // n_kv_heads
    # (B, H, L, D) -> (B, kv_heads, n_rep, L, D): each KV head serves n_rep query heads as a
    # batch, instead of repeating the packed K/V n_rep times.
    q = (queries * scale).reshape(B, n_kv_heads, n_rep, L, D)
    k = tuple(part[:, :, None] for part in keys)
    v = tuple(part[:, :, None] for part in values)
    scores = mx.quantized_matmul(q, *k, transpose=True, group_size=KV_GROUP_SIZE, bits=bits)
    if L > 1:
        S = scores.shape[-1]
        causal = mx.arange(S - L, S)[:, None] >= mx.arange(S)[None]
        scores = mx.where(causal, scores, mx.finfo(scores.dtype).min)
    probs = mx.softmax(scores, axis=-1, precise=True)
    out = mx.quantized_matmul(probs, *v, transpose=False, group_size=KV_GROUP_SIZE, bits=bits)
    return out.reshape(B, n_heads, L, D)
