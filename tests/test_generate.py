"""Streaming generation: stop tokens, limits, cancellation, prompt-cache reuse, stats, and the
``python -m mlx_model`` / ``python -m mlx_model.convert`` command lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import mlx_model
from mlx_model import SamplingParams, generate_all, stream_generate

REPO = Path(__file__).resolve().parents[1]
PROMPT = [128000, 1000, 2000, 3000, 4000]
STOP_NAMES = ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"]


@pytest.fixture(scope="module")
def loaded(tiny_f32):
    return mlx_model.load(tiny_f32, dtype=mx.float32)


def greedy(model, tokenizer, prompt: list[int], n: int, **kwargs) -> list[int]:
    tokens, _, final = generate_all(model, tokenizer, prompt, max_tokens=n, stop_ids=[], **kwargs)
    assert final.finish_reason == "length"
    return tokens


def random_prompt(n: int, seed: int) -> list[int]:
    return [128000, *np.random.default_rng(seed).integers(0, 128000, size=n - 1).tolist()]


def first_fresh_position(tokens: list[int], prompt: list[int], start: int = 2) -> int:
    """First index >= start whose token appears neither earlier in the answer nor in the prompt."""
    for k in range(start, len(tokens)):
        if tokens[k] not in tokens[:k] and tokens[k] not in prompt:
            return k
    raise AssertionError(f"no fresh token in greedy answer {tokens}")


def swap_token_rows(model, a: int, b: int) -> None:
    """Exchange two tokens' embedding rows. The head is tied, so the model now does exactly what
    it did before with ids a and b relabelled: where it chose a, it now chooses b."""
    weight = model.model.embed_tokens.weight
    index = np.arange(weight.shape[0])
    index[[a, b]] = index[[b, a]]
    model.model.embed_tokens.weight = weight[mx.array(index)]
    mx.eval(model.parameters())


@pytest.mark.parametrize("stop_name", STOP_NAMES)
def test_stops_on_each_llama3_stop_token(tiny_f32, stop_name):
    model, tokenizer = mlx_model.load(tiny_f32, dtype=mx.float32)
    before = greedy(model, tokenizer, PROMPT, 12)
    k = first_fresh_position(before, PROMPT)
    stop_id = tokenizer.special_tokens[stop_name]
    assert stop_id in tokenizer.eos_token_ids
    swap_token_rows(model, before[k], stop_id)
    # The relabelled model now says the stop token at position k (checked without stopping).
    assert greedy(model, tokenizer, PROMPT, k + 1) == before[:k] + [stop_id]

    cache = model.make_cache()
    events = list(stream_generate(model, tokenizer, PROMPT, cache=cache, max_tokens=12))
    tokens = [e.token for e in events if e.token is not None]
    assert tokens == before[:k]
    assert events[-1].token is None and events[-1].finish_reason == "stop"
    assert all(e.finish_reason is None for e in events[:-1])
    assert "".join(e.text for e in events) == tokenizer.decode(before[:k])
    # The stop token was fed, so the next turn's prompt (which ends the turn with it) reuses it.
    assert cache.length == len(cache.tokens)
    assert cache.tokens == PROMPT + before[:k] + [stop_id]


def test_explicit_stop_ids_replace_the_default_ones(loaded):
    model, tokenizer = loaded
    before = greedy(model, tokenizer, PROMPT, 12)
    k = first_fresh_position(before, PROMPT)
    tokens, _, final = generate_all(model, tokenizer, PROMPT, max_tokens=12, stop_ids=[before[k]])
    assert tokens == before[:k]  # the stop token itself is not part of the answer
    assert final.finish_reason == "stop"


def test_max_tokens_finishes_with_length(loaded):
    model, tokenizer = loaded
    cache = model.make_cache()
    tokens, _, final = generate_all(
        model, tokenizer, PROMPT, cache=cache, max_tokens=5, stop_ids=[]
    )
    assert len(tokens) == 5
    assert final.finish_reason == "length"
    assert final.stats.generation_tokens == 5
    # The last token was never fed to the model, so the cache holds everything before it.
    assert cache.length == len(cache.tokens) == len(PROMPT) + 4
    assert cache.tokens == PROMPT + tokens[:4]


def test_max_tokens_below_one_raises(loaded):
    model, tokenizer = loaded
    with pytest.raises(ValueError, match="max_tokens"):
        list(stream_generate(model, tokenizer, PROMPT, max_tokens=0))


def test_cancel_from_another_thread_stops_within_one_token(loaded):
    model, tokenizer = loaded
    expected = greedy(model, tokenizer, PROMPT, 40)
    k = 5
    cancel = threading.Event()
    reached_k = threading.Event()

    def stopper():
        reached_k.wait(timeout=30)
        cancel.set()

    thread = threading.Thread(target=stopper)
    thread.start()
    cache = model.make_cache()
    events = []
    for event in stream_generate(
        model, tokenizer, PROMPT, cache=cache, max_tokens=40, stop_ids=[], cancel=cancel
    ):
        events.append(event)
        if sum(e.token is not None for e in events) == k:
            reached_k.set()
            assert cancel.wait(timeout=30)
    thread.join()
    tokens = [e.token for e in events if e.token is not None]
    assert k <= len(tokens) <= k + 1
    assert tokens == expected[: len(tokens)]
    assert events[-1].finish_reason == "cancelled"
    assert cache.length == len(cache.tokens)
    assert cache.tokens == (PROMPT + tokens)[: cache.length]


def test_cancel_during_a_long_prefill_yields_no_tokens(loaded):
    model, tokenizer = loaded
    cancel = threading.Event()
    cancel.set()
    cache = model.make_cache()
    prompt = random_prompt(200, seed=1)
    events = list(
        stream_generate(model, tokenizer, prompt, cache=cache, cancel=cancel, prefill_step=32)
    )
    assert [e.token for e in events] == [None]
    assert events[0].finish_reason == "cancelled"
    # What was prefilled before the cancel is kept and consistent, so a retry reuses it.
    assert 0 < cache.length == len(cache.tokens) < len(prompt)
    assert cache.tokens == prompt[: cache.length]


def test_second_turn_prefills_only_new_tokens_and_matches_a_fresh_cache(loaded):
    model, tokenizer = loaded
    first_prompt = random_prompt(40, seed=2)
    cache = model.make_cache()
    answer = greedy(model, tokenizer, first_prompt, 6, cache=cache)
    held = list(cache.tokens)
    assert held == first_prompt + answer[:5]

    second_prompt = first_prompt + answer + random_prompt(9, seed=3)[1:]
    events = list(
        stream_generate(model, tokenizer, second_prompt, cache=cache, max_tokens=10, stop_ids=[])
    )
    reused = [e.token for e in events if e.token is not None]
    stats = events[-1].stats
    assert stats.cached_tokens == len(held)
    assert stats.prompt_tokens == len(second_prompt)

    fresh = greedy(model, tokenizer, second_prompt, 10)
    assert reused == fresh
    assert cache.length == len(cache.tokens)
    assert cache.tokens == (second_prompt + reused)[: cache.length]


def test_a_prompt_that_diverges_from_the_cache_trims_it(loaded):
    model, tokenizer = loaded
    cache = model.make_cache()
    greedy(model, tokenizer, random_prompt(30, seed=4), 4, cache=cache)
    other = random_prompt(30, seed=4)[:10] + random_prompt(12, seed=5)[1:]
    events = list(stream_generate(model, tokenizer, other, cache=cache, max_tokens=6, stop_ids=[]))
    assert events[-1].stats.cached_tokens == 10
    assert [e.token for e in events if e.token is not None] == greedy(model, tokenizer, other, 6)


def test_identical_prompt_recomputes_only_its_last_token(loaded):
    # The next token's logits come from the last prompt position, so that one is run again.
    model, tokenizer = loaded
    prompt = random_prompt(20, seed=6)
    cache = model.make_cache()
    greedy(model, tokenizer, prompt, 3, cache=cache)
    _, _, final = generate_all(model, tokenizer, prompt, cache=cache, max_tokens=3, stop_ids=[])
    assert final.stats.cached_tokens == len(prompt) - 1


def test_text_deltas_concatenate_to_the_decoded_tokens(loaded):
    model, tokenizer = loaded
    # Sampling at a high temperature walks over many unrelated tokens, byte pieces included.
    params = SamplingParams(temperature=1.5, seed=7)
    events = list(
        stream_generate(model, tokenizer, PROMPT, sampling=params, max_tokens=60, stop_ids=[])
    )
    tokens = [e.token for e in events if e.token is not None]
    assert len(set(tokens)) > 20
    assert "".join(e.text for e in events) == tokenizer.decode(tokens)


def test_same_seed_same_answer_through_the_generator(loaded):
    model, tokenizer = loaded
    params = SamplingParams(temperature=1.0, top_p=0.9, seed=42)
    a = greedy(model, tokenizer, PROMPT, 16, sampling=params)
    b = greedy(model, tokenizer, PROMPT, 16, sampling=params)
    assert a == b
    assert a != greedy(
        model, tokenizer, PROMPT, 16, sampling=SamplingParams(temperature=1.0, top_p=0.9, seed=43)
    )


def test_repetition_penalty_in_the_generator_matches_transformers(loaded):
    import torch
    from transformers import RepetitionPenaltyLogitsProcessor

    model, tokenizer = loaded
    window, penalty = 8, 1.5
    params = SamplingParams(repetition_penalty=penalty, repetition_context=window)
    ours = greedy(model, tokenizer, PROMPT, 12, sampling=params)

    processor = RepetitionPenaltyLogitsProcessor(penalty=penalty)
    sequence, expected = list(PROMPT), []
    for _ in range(12):
        logits = np.array(model.last_logits(mx.array([sequence])).astype(mx.float32))
        scores = processor(torch.tensor([sequence[-window:]]), torch.from_numpy(logits))
        expected.append(int(scores.argmax()))
        sequence.append(expected[-1])
    assert ours == expected
    # The tiny model repeats itself without a penalty, so the check above is not vacuous.
    assert ours != greedy(model, tokenizer, PROMPT, 12)


def test_stats_are_filled_in(loaded):
    model, tokenizer = loaded
    _, _, final = generate_all(model, tokenizer, PROMPT, max_tokens=8, stop_ids=[])
    stats = final.stats
    assert stats.prompt_tokens == len(PROMPT)
    assert stats.cached_tokens == 0
    assert stats.generation_tokens == 8
    for name in ("prompt_tps", "generation_tps", "ttft_s", "peak_memory_gb"):
        assert getattr(stats, name) > 0, name
    # Peak memory includes at least the model's own weights.
    assert stats.peak_memory_gb * 1e9 >= model.model.embed_tokens.weight.nbytes


def test_empty_prompt_raises(loaded):
    model, tokenizer = loaded
    with pytest.raises(ValueError, match="empty"):
        list(stream_generate(model, tokenizer, [], max_tokens=3))


# -- command lines -------------------------------------------------------------------------


def run_module(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_generate_cli_json_matches_in_process_greedy(tiny_bf16):
    result = run_module(
        "mlx_model",
        "--model",
        str(tiny_bf16),
        "--prompt-ids",
        "1,2,3",
        "--max-tokens",
        "8",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    for key in (
        "prompt_tokens",
        "tokens",
        "text",
        "prompt_tps",
        "generation_tps",
        "peak_memory_gb",
    ):
        assert key in out, key
    model, tokenizer = mlx_model.load(tiny_bf16)
    tokens, text, _ = generate_all(model, tokenizer, [1, 2, 3], max_tokens=8)
    assert out["prompt_tokens"] == 3
    assert out["tokens"] == tokens
    assert out["text"] == text
    assert out["generation_tps"] > 0 and out["peak_memory_gb"] > 0


def test_generate_cli_takes_a_text_prompt(tiny_bf16):
    result = run_module(
        "mlx_model",
        "--model",
        str(tiny_bf16),
        "--prompt",
        "Hello, world",
        "--max-tokens",
        "4",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    _, tokenizer = mlx_model.load(tiny_bf16)
    assert out["prompt_tokens"] == len(tokenizer.encode("Hello, world", bos=True))
    assert len(out["tokens"]) == 4


@pytest.mark.parametrize("broken", ["absent", "bad_config", "no_weights"])
def test_generate_cli_bad_model_is_one_clear_line(tiny_bf16, tmp_path, broken):
    target = tmp_path / "model"
    if broken != "absent":
        target.mkdir()
        (target / "config.json").write_text(
            "{oops" if broken == "bad_config" else (tiny_bf16 / "config.json").read_text()
        )
    result = run_module("mlx_model", "--model", str(target), "--prompt-ids", "1", "--json")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert str(target) in lines[0]
    assert result.stdout == ""


def test_convert_cli_end_to_end(tiny_bf16, tmp_path):
    out = tmp_path / "q4"
    result = run_module(
        "mlx_model.convert", "--model", str(tiny_bf16), "--out", str(out), "--bits", "4"
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "logit error" in result.stdout

    config = json.loads((out / "config.json").read_text())
    assert config["quantization"]["bits"] == 4 and config["quantization"]["group_size"] == 64
    assert (out / "model.safetensors").stat().st_size < 0.4 * (
        tiny_bf16 / "model.safetensors"
    ).stat().st_size
    for name in ("tokenizer.json", "tokenizer_config.json", "original/tokenizer.model"):
        assert (out / name).is_file(), name
    # The result equals what the Python API writes, and runs.
    reference = tmp_path / "api"
    mlx_model.quantize.convert(tiny_bf16, reference, bits=4)
    ours = mx.load(str(out / "model.safetensors"))
    theirs = mx.load(str(reference / "model.safetensors"))
    assert sorted(ours) == sorted(theirs)
    assert all(mx.array_equal(ours[n], theirs[n]) for n in ours)
    model, tokenizer = mlx_model.load(out)
    assert model.config.quantization.bits == 4
    assert len(greedy(model, tokenizer, PROMPT, 4)) == 4


def test_convert_cli_refuses_an_already_quantized_model(tiny_4bit, tmp_path):
    result = run_module(
        "mlx_model.convert",
        "--model",
        str(tiny_4bit),
        "--out",
        str(tmp_path / "again"),
        "--bits",
        "8",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "already quantized" in result.stderr
