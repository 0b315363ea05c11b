"""The key/value cache: per-layer K and V in preallocated unified memory.

Buffers grow in steps of ``STEP`` tokens so a long answer costs a handful of reallocations, not
one per token. K/V are stored un-repeated (grouped-query attention shares each KV head between
several query heads), so the cache costs 2 x layers x kv_heads x head_dim x bytes per token.

The cache also remembers which token ids it holds. That makes prompt-cache reuse a property of
the cache itself: a caller hands the whole prompt, the common prefix is kept, and only the rest
is prefilled.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import mlx.core as mx

if TYPE_CHECKING:
    from .llama import Model

STEP = 256
KV_GROUP_SIZE = 64
FORMAT_VERSION = "1"


class CacheFileError(Exception):
    """A saved cache file is unreadable, corrupt, or belongs to another model."""


class _LayerKV:
    """One layer's keys and values, ``(1, kv_heads, capacity, head_dim)``, filled to ``length``."""

    def __init__(self, bits: int | None):
        self.bits = bits
        self.keys: mx.array | tuple[mx.array, ...] | None = None
        self.values: mx.array | tuple[mx.array, ...] | None = None
        self.capacity = 0

    def _grow(self, needed: int, like: mx.array, length: int) -> None:
        n_steps = (needed + STEP - 1) // STEP
        new_capacity = n_steps * STEP
        _, kv_heads, _, head_dim = like.shape

        def empty(width: int, dtype: mx.Dtype) -> mx.array:
            return mx.zeros((1, kv_heads, new_capacity, width), dtype=dtype)

        def grown(old, fresh):
            if old is None:
                return fresh
            if isinstance(old, tuple):
                return tuple(
                    mx.concatenate([o[..., :length, :], f[..., length:, :]], axis=2)
                    for o, f in zip(old, fresh, strict=True)
                )
            return mx.concatenate([old[..., :length, :], fresh[..., length:, :]], axis=2)

        if self.bits is None:
            fresh_k, fresh_v = empty(head_dim, like.dtype), empty(head_dim, like.dtype)
        else:
            packed = head_dim * self.bits // 32
            groups = head_dim // KV_GROUP_SIZE
            fresh_k = (
                empty(packed, mx.uint32),
                empty(groups, like.dtype),
                empty(groups, like.dtype),
            )
            fresh_v = (
                empty(packed, mx.uint32),
                empty(groups, like.dtype),
                empty(groups, like.dtype),
            )
        self.keys = grown(self.keys, fresh_k)
        self.values = grown(self.values, fresh_v)
        self.capacity = new_capacity

    def update_and_fetch(
        self, keys: mx.array, values: mx.array, length: int
    ) -> tuple[mx.array, mx.array]:
        new_len = length + keys.shape[2]
        if new_len > self.capacity:
            self._grow(new_len, keys, length)
        if self.bits is None:
            self.keys[..., length:new_len, :] = keys
            self.values[..., length:new_len, :] = values
            return self.keys[..., :new_len, :], self.values[..., :new_len, :]
        for store, fresh in ((self.keys, keys), (self.values, values)):
            parts = mx.quantize(fresh, group_size=KV_GROUP_SIZE, bits=self.bits)
            for buffer, part in zip(store, parts, strict=True):
                buffer[..., length:new_len, :] = part
        return (
            self._dequantized(self.keys, new_len, keys.dtype),
            self._dequantized(self.values, new_len, values.dtype),
        )

    def _dequantized(self, store: tuple[mx.array, ...], n: int, dtype: mx.Dtype) -> mx.array:
        w, scales, biases = (part[..., :n, :] for part in store)
        out = mx.dequantize(w, scales, biases, group_size=KV_GROUP_SIZE, bits=self.bits)
        return out.astype(dtype)

    def arrays(self, length: int) -> list[mx.array]:
        if self.keys is None:
            return []
        parts = []
        for store in (self.keys, self.values):
            for part in store if isinstance(store, tuple) else (store,):
                parts.append(part[..., :length, :])
        return parts

    def set_arrays(self, parts: list[mx.array], length: int) -> None:
        half = len(parts) // 2
        k, v = parts[:half], parts[half:]
        self.keys = tuple(k) if self.bits else k[0]
        self.values = tuple(v) if self.bits else v[0]
        self.capacity = length

    @property
    def nbytes(self) -> int:
        total = 0
        for store in (self.keys, self.values):
            if store is None:
                continue
            for part in store if isinstance(store, tuple) else (store,):
                total += part.nbytes
        return total


class KVCache:
    """K/V for every layer of one model, plus the token ids they were computed from."""

    def __init__(self, num_layers: int, kv_bits: int | None = None):
        if kv_bits not in (None, 4, 8):
            raise ValueError(f"kv_bits must be None, 4 or 8, got {kv_bits!r}")
        self.kv_bits = kv_bits
        self.layers = [_LayerKV(kv_bits) for _ in range(num_layers)]
        self.tokens: list[int] = []
        # Positions written by the model but not yet committed by the caller; see advance().
        self._length = 0

    @property
    def length(self) -> int:
        """Number of positions whose K/V are held."""
        return self._length

    @property
    def offset(self) -> int:
        return self._length

    def update_and_fetch(
        self, layer: int, keys: mx.array, values: mx.array
    ) -> tuple[mx.array, mx.array]:
        # (1, kv_heads, L, head_dim)
        return self.layers[layer].update_and_fetch(keys, values, self._length)

    def advance(self, n: int) -> None:
        """Called by the model once every layer has written ``n`` new positions.

        Token ids are recorded separately by the generator (``tokens``), because in the decode
        loop a token is fed to the model before its value is known on the host.
        """
        self._length += n

    def trim_to(self, n: int) -> None:
        """Roll back to the first ``n`` tokens; the buffers stay allocated for reuse."""
        if not 0 <= n <= self._length:
            raise ValueError(f"cannot trim a cache of {self._length} tokens to {n}")
        self._length = n
        del self.tokens[n:]

    def sync_to_tokens(self) -> None:
        """Drop positions computed for tokens that were never committed (a cancelled step)."""
        self._length = min(self._length, len(self.tokens))

    def common_prefix(self, token_ids: list[int]) -> int:
        n = 0
        for held, wanted in zip(self.tokens, token_ids, strict=False):
            if held != wanted:
                break
            n += 1
        return n

    @property
    def nbytes(self) -> int:
        return sum(layer.nbytes for layer in self.layers)

    def state(self) -> list[mx.array]:
        return [a for layer in self.layers for a in layer.arrays(self._length)]

    # -- persistence -----------------------------------------------------------------------

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> None:
        """Write K/V and token ids to a safetensors file (the caller renames it into place)."""
        arrays: dict[str, mx.array] = {}
        for i, layer in enumerate(self.layers):
            for j, part in enumerate(layer.arrays(self._length)):
                arrays[f"layer.{i}.{j}"] = part
        meta = dict(metadata or {})
        meta.update(
            {
                "format": FORMAT_VERSION,
                "num_layers": str(len(self.layers)),
                "kv_bits": str(self.kv_bits or 0),
                "length": str(self._length),
                "tokens": json.dumps(self.tokens),
                "tokens_sha256": tokens_hash(self.tokens),
            }
        )
        mx.save_safetensors(str(path), arrays, metadata=meta)

    @classmethod
    def load(cls, path: str | Path, model: Model) -> tuple[KVCache, dict[str, str]]:
        """Read a file written by ``save``; stale, foreign or corrupt ones raise CacheFileError."""
        try:
            arrays, meta = mx.load(str(path), return_metadata=True)
        except Exception as exc:  # mx.load raises several types for truncated or foreign files
            raise CacheFileError(f"{path}: unreadable cache file ({exc})") from None
        try:
            if meta.get("format") != FORMAT_VERSION:
                raise CacheFileError(f"{path}: cache format {meta.get('format')!r} is not ours")
            cfg = model.config
            num_layers = int(meta["num_layers"])
            kv_bits = int(meta["kv_bits"]) or None
            length = int(meta["length"])
            tokens = json.loads(meta["tokens"])
            if tokens_hash(tokens) != meta["tokens_sha256"] or len(tokens) != length:
                raise CacheFileError(f"{path}: token list does not match its hash")
            if num_layers != cfg.num_hidden_layers:
                raise CacheFileError(
                    f"{path}: saved for {num_layers} layers, model has {cfg.num_hidden_layers}"
                )
            cache = cls(num_layers, kv_bits)
            per_layer = 2 if kv_bits is None else 6
            for i, layer in enumerate(cache.layers):
                parts = [arrays[f"layer.{i}.{j}"] for j in range(per_layer)]
                for part in parts:
                    if (
                        part.shape[0] != 1
                        or part.shape[1] != cfg.num_key_value_heads
                        or (part.shape[2] != length)
                    ):
                        raise CacheFileError(f"{path}: layer {i} has shape {part.shape}")
                if [part.shape[3] for part in parts] != _part_widths(cfg.head_dim, kv_bits):
                    raise CacheFileError(
                        f"{path}: layer {i} was saved for another head_dim "
                        f"(widths {[p.shape[3] for p in parts]}, model has "
                        f"head_dim {cfg.head_dim})"
                    )
                layer.set_arrays(parts, length)
        except (KeyError, ValueError, TypeError) as exc:
            raise CacheFileError(f"{path}: malformed cache file ({exc!r})") from None
        cache._length = length
        cache.tokens = list(tokens)
        return cache, meta


def _part_widths(head_dim: int, kv_bits: int | None) -> list[int]:
    """Last-axis widths of one layer's saved arrays: K, V, or packed K, scales, biases, V, ..."""
    if kv_bits is None:
        return [head_dim, head_dim]
    groups = head_dim // KV_GROUP_SIZE
    return [head_dim * kv_bits // 32, groups, groups] * 2


def tokens_hash(tokens: list[int]) -> str:
    return hashlib.sha256(json.dumps(tokens).encode()).hexdigest()
