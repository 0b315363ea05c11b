"""A real checkpoint whose greedy output is chosen by the test.

Random weights cannot be steered, yet some behaviour (tool calls, stop tokens) needs the model
to say something specific. This builds a tiny checkpoint with zeroed attention/MLP outputs, so
each block passes its input through, and an untied output head whose row for token b points
along the final hidden state of token a: the model then maps a -> b. It runs through the real
engine like any other checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

import mlx_model
from mlx_model.testing import make_tiny_checkpoint


def make_scripted_checkpoint(out: Path, tokenizer_model: Path, chain: dict[int, int]) -> Path:
    """Checkpoint whose greedy next token after ``a`` is ``chain[a]``."""
    path = make_tiny_checkpoint(
        out, tokenizer_model, dtype=mx.float32, config_overrides={"tie_word_embeddings": False}
    )
    model, _ = mlx_model.load(path, dtype=mx.float32)
    weights = dict(tree_flatten(model.parameters()))
    for name in weights:
        if name.endswith(("o_proj.weight", "down_proj.weight")):
            weights[name] = mx.zeros_like(weights[name])
    model.load_weights(list(weights.items()))
    sources = list(chain)
    hidden = model.hidden(mx.array([sources]))[0]  # blocks are identity: position-independent
    hidden = hidden / mx.linalg.norm(hidden, axis=-1, keepdims=True)
    head = mx.zeros_like(weights["lm_head.weight"])
    for i, a in enumerate(sources):
        head[chain[a]] = head[chain[a]] + 20.0 * hidden[i]
    weights["lm_head.weight"] = head
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    return path


def chain_for(tokens: list[int], after: int) -> dict[int, int]:
    """A chain that, starting after token ``after``, emits ``tokens`` (which must be distinct)."""
    sequence = [after, *tokens]
    if len(set(sequence)) != len(sequence):
        raise ValueError("a scripted sequence needs distinct tokens")
    return dict(zip(sequence, sequence[1:], strict=False))


WORDS = " one two three four five six seven eight nine ten"


def make_counting_checkpoint(folder: Path, tokenizer_model: Path) -> Path:
    """A model that answers every message with WORDS, then ends its turn."""
    tokenizer = mlx_model.Tokenizer.from_tiktoken_file(tokenizer_model)
    header_end = tokenizer.encode("\n\n")[0]  # the last token of every assistant header
    return make_scripted_checkpoint(
        folder,
        tokenizer_model,
        chain_for([*tokenizer.encode(WORDS), tokenizer.eot_id], header_end),
    )
