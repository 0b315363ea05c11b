"""Prompt-lookup decoding on SmolLM2-135M-Instruct: tokens per forward pass for a summary, a
rewrite and an open chat prompt, and the device's cost of a (k+1)-token forward.

    python scripts/bench_lookup.py [--max-tokens 96] [--repeats 3] [--cache-dir DIR]
    python scripts/bench_lookup.py --policy always --dtype float32   # drafts on every step

Greedy decoding, so the plain and lookup answers can be compared token for token. By default it
runs what the app runs: bf16 activations, plain decoding with the next step queued before the
current token is read (as mlx_model.generate does), and the app's own policy (drafts only where
their expected tokens per unit of time beat plain decoding, from costs this process learns).
Plain and lookup decoding alternate for --repeats rounds, so load on the machine hits both
alike; "speedup" is the median of the rounds' lookup tok/s over plain tok/s, "speedup_range"
their min and max. The first round also pays for learning the costs.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path
from statistics import median

import mlx.core as mx

import mlx_model
from mlx_model.lookup import LookupPolicy, LookupSteps
from mlx_model.sampling import Sampler, SamplingParams
from mlx_model.testing import smollm2_checkpoint

STOP = 2  # <|im_end|>


def licence_text() -> str:
    import transformers

    site = Path(transformers.__file__).parent.parent
    found = glob.glob(str(site / "transformers-*.dist-info" / "**" / "LICENSE*"), recursive=True)
    return Path(found[0]).read_text()


def prompts(text: str) -> dict[str, str]:
    excerpt = text[:1500]
    return {
        "summary": f"Summarise this licence text in a few sentences:\n\n{excerpt}",
        "rewrite": f"Rewrite this text in plain English, keeping its structure:\n\n{excerpt}",
        "chat": "What are three good ways to learn a new programming language?",
    }


def run(
    model, ids: list[int], max_tokens: int, lookup: bool, always: bool = False
) -> tuple[list[int], int, float]:
    """(tokens, forward passes, decode seconds) of greedy decoding, plain or with lookup."""
    cache = model.make_cache()
    logits = mlx_model.prefill(model, cache, ids)
    mx.eval(logits)
    start = time.perf_counter()
    if lookup:
        policy = None
        if always:
            from mlx_model.lookup import ForwardCosts

            policy = LookupPolicy(ForwardCosts(fixed=0.0))
        steps = LookupSteps(
            model, cache, Sampler(SamplingParams()), logits, ids, max_tokens=max_tokens,
            stops={STOP}, policy=policy,
        )  # fmt: skip
        tokens = list(steps)
        return tokens, steps.forwards, time.perf_counter() - start
    # Plain decoding as the app runs it: the next step is queued before this token is read.
    tokens: list[int] = []
    y = mx.argmax(logits, axis=-1)
    mx.async_eval(y)
    while True:
        ahead = None
        if len(tokens) + 1 < max_tokens:
            ahead = mx.argmax(model.last_logits(y[None], cache), axis=-1)
            mx.async_eval(ahead)
        tokens.append(y.item())
        if ahead is None:
            break
        cache.commit(tokens[-1:])
        if tokens[-1] == STOP:
            mx.eval(ahead)
            break
        y = ahead
    return tokens, len(tokens), time.perf_counter() - start


def top2_gap(model, ids: list[int]) -> float:
    """The reference's margin between its two likeliest tokens (teacher forcing, float32)."""
    top = mx.sort(model(mx.array([ids]))[0, -1].astype(mx.float32))[-2:]
    return float((top[1] - top[0]).item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
    parser.add_argument("--policy", choices=("app", "always"), default="app")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    path = smollm2_checkpoint(args.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = mlx_model.load_model(path, dtype=getattr(mx, args.dtype))
    always = args.policy == "always"
    print(json.dumps({"load_average": os.getloadavg()}), flush=True)
    for name, text in prompts(licence_text()).items():
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(ids)["input_ids"]
        plain_tps, lookup_tps, ratios = [], [], []
        for _ in range(args.repeats):  # alternated, so load on the machine hits both alike
            plain, _, plain_s = run(model, ids, args.max_tokens, lookup=False)
            fast, forwards, fast_s = run(model, ids, args.max_tokens, lookup=True, always=always)
            plain_tps.append(len(plain) / plain_s)
            lookup_tps.append(len(fast) / fast_s)
            ratios.append(lookup_tps[-1] / plain_tps[-1])
        first_diff = next(
            (i for i, (a, b) in enumerate(zip(plain, fast, strict=False)) if a != b), None
        )
        print(
            json.dumps(
                {
                    "prompt": name,
                    "dtype": args.dtype,
                    "policy": args.policy,
                    "prompt_tokens": len(ids),
                    "tokens": len(fast),
                    "forwards": forwards,
                    "tokens_per_forward": round(len(fast) / forwards, 2),
                    "same_as_plain": fast == plain,
                    "first_difference": first_diff,
                    "top2_gap_there": None
                    if first_diff is None
                    else top2_gap(model, [*ids, *plain[:first_diff]]),
                    "plain_tps": round(median(plain_tps), 1),
                    "lookup_tps": round(median(lookup_tps), 1),
                    "speedup": round(median(ratios), 2),
                    "speedup_range": [round(min(ratios), 2), round(max(ratios), 2)],
                    "speedups": [round(r, 2) for r in ratios],
                }
            ),
            flush=True,
        )
    print(json.dumps({"load_average": os.getloadavg()}), flush=True)
    try:
        from mlx_model.lookup import forward_costs

        learned = {w: round(forward_costs(model).ratio(w), 2) for w in range(2, 6)}
        print(json.dumps({"learned_cost_ratio_by_width": learned}))
    except ImportError:  # a tree from before costs were learned
        pass


if __name__ == "__main__":
    main()
