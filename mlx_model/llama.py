"""The Llama 3 decoder in MLX.

Touvron et al., "LLaMA" (2023) and Meta, "The Llama 3 Herd of Models" (2024): pre-norm
RMSNorm (Zhang & Sennrich, 2019), grouped-query attention (Ainslie et al., 2023) with rotary
embeddings (Su et al., 2021), and a SwiGLU MLP (Shazeer, 2020). Module names mirror Hugging
Face's so checkpoints load without renaming and mlx-lm's quantized files fit as they are.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from .config import ModelConfig
from .kv_cache import KVCache, quantized_attention
from .rope import Llama3RoPE


class Attention(nn.Module):
    def __init__(self, config: ModelConfig, layer_index: int):
        super().__init__()
        self.layer_index = layer_index
        self.n_heads = config.num_attention_heads
        self.n_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.scale = config.head_dim**-0.5
        dim = config.hidden_size
        self.q_proj = nn.Linear(dim, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, dim, bias=False)
        self.rope = Llama3RoPE(config.head_dim, config.rope_theta, config.rope_scaling)

    def __call__(self, x: mx.array, cache: KVCache | None) -> mx.array:
        B, L, _ = x.shape
        # (B, L, H*D) -> (B, H, L, D)
        q = self.q_proj(x).reshape(B, L, self.n_heads, self.head_dim).transpose(0, 2, 1, 3)
        k = self.k_proj(x).reshape(B, L, self.n_kv_heads, self.head_dim).transpose(0, 2, 1, 3)
        v = self.v_proj(x).reshape(B, L, self.n_kv_heads, self.head_dim).transpose(0, 2, 1, 3)
        offset = cache.offset if cache is not None else 0
        q = self.rope(q, offset=offset)
        k = self.rope(k, offset=offset)
        if cache is None:
            mask = "causal" if L > 1 else None
            out = mx.fast.scaled_dot_product_attention(q, k, v, scale=self.scale, mask=mask)
        else:
            k, v = cache.update_and_fetch(self.layer_index, k, v)
            if cache.kv_bits is not None:  # the cache says how it stores K/V: packed at kv_bits
                out = quantized_attention(q, k, v, self.scale, bits=cache.kv_bits)
            else:
                # The fused kernel handles GQA without repeating K/V. The cache knows what each
                # query may see (a batch of padded rows needs a mask array).
                mask = cache.attention_mask(L)
                out = mx.fast.scaled_dot_product_attention(q, k, v, scale=self.scale, mask=mask)
        # (B, H, L, D) -> (B, L, H*D)
        return self.o_proj(out.transpose(0, 2, 1, 3).reshape(B, L, -1))


@mx.compile
def swiglu(gate: mx.array, up: mx.array) -> mx.array:
    return nn.silu(gate) * up


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.down_proj(swiglu(self.gate_proj(x), self.up_proj(x)))


class TransformerBlock(nn.Module):
    def __init__(self, config: ModelConfig, layer_index: int):
        super().__init__()
        self.self_attn = Attention(config, layer_index)
        self.mlp = MLP(config)
        self.input_layernorm = nn.RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = nn.RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def __call__(self, x: mx.array, cache: KVCache | None) -> mx.array:
        h = x + self.self_attn(self.input_layernorm(x), cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [TransformerBlock(config, i) for i in range(config.num_hidden_layers)]
        self.norm = nn.RMSNorm(config.hidden_size, eps=config.rms_norm_eps)


class Model(nn.Module):
    """``model(tokens, cache) -> logits``: tokens (1, L) int32, logits (1, L, vocab)."""

    def __init__(self, config: ModelConfig, compute_dtype: mx.Dtype = mx.bfloat16):
        super().__init__()
        self.config = config
        # Kept as a name: mx.Dtype cannot be pickled, and copy.deepcopy(model) pickles attributes.
        self.compute_dtype_name = str(compute_dtype).rsplit(".", 1)[-1]
        self.model = LlamaModel(config)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def __call__(self, tokens: mx.array, cache: KVCache | None = None) -> mx.array:
        return self.head(self.hidden(tokens, cache))

    def last_logits(self, tokens: mx.array, cache: KVCache | None = None) -> mx.array:
        """Logits of the last position only, (1, vocab): prefill needs no more, and the
        vocab-sized head is a large share of the work per position."""
        return self.head(self.hidden(tokens, cache)[:, -1, :])

    def hidden(self, tokens: mx.array, cache: KVCache | None = None) -> mx.array:
        """Final-norm hidden states (1, L, hidden). With a cache, the tokens' K/V are written at
        ``cache.offset``; the caller commits the tokens (``cache.commit``)."""
        h = self.embed(tokens)
        for layer in self.model.layers:
            h = layer(h, cache)
        return self.model.norm(h)

    @property
    def compute_dtype(self) -> mx.Dtype:
        """The float type activations run in (bfloat16, float16 or float32)."""
        return getattr(mx, self.compute_dtype_name)

    def embed(self, tokens: mx.array) -> mx.array:
        # A quantized embedding dequantizes to its scales' dtype; activations run in compute_dtype.
        return self.model.embed_tokens(tokens).astype(self.compute_dtype)

    def head(self, h: mx.array) -> mx.array:
        if self.config.tie_word_embeddings:
            return self.model.embed_tokens.as_linear(h)
        return self.lm_head(h)

    def make_cache(self, kv_bits: int | None = None) -> KVCache:
        return KVCache(self.config.num_hidden_layers, kv_bits=kv_bits)

    @property
    def layers(self) -> list[TransformerBlock]:
        return self.model.layers
