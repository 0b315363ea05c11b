"""``python -m mlx_model --model DIR --prompt ...``: generate from a local checkpoint, raw (no
chat template), streaming the text or printing one JSON object with the stats."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from . import load
from .generate import stream_generate
from .sampling import SamplingParams


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlx_model", description="Generate text from a local checkpoint."
    )
    parser.add_argument("--model", required=True, help="checkpoint directory")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="raw prompt text (no chat template applied)")
    source.add_argument("--prompt-ids", help="comma-separated token ids")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temp", type=float, default=0.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--draft",
        choices=["none", "lookup"],
        default="none",
        help="lookup: verify tokens guessed from the prompt, several per forward pass",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)

    try:
        model, tokenizer = load(args.model)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.prompt_ids is not None:
        try:
            prompt_ids = [int(t) for t in args.prompt_ids.split(",") if t.strip()]
        except ValueError:
            parser.error("--prompt-ids must be comma-separated integers")
    else:
        prompt_ids = tokenizer.encode(args.prompt, bos=True)
    sampling = SamplingParams(temperature=args.temp, top_p=args.top_p, seed=args.seed)
    tokens: list[int] = []
    parts: list[str] = []
    final = None
    try:
        for event in stream_generate(
            model,
            tokenizer,
            prompt_ids,
            sampling=sampling,
            max_tokens=args.max_tokens,
            prompt_lookup=args.draft == "lookup",
        ):
            if event.token is not None:
                tokens.append(event.token)
            parts.append(event.text)
            if not args.json:
                print(event.text, end="", flush=True)
            final = event
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    stats = final.stats
    if args.json:
        print(
            json.dumps(
                {
                    "prompt_tokens": stats.prompt_tokens,
                    "tokens": tokens,
                    "text": "".join(parts),
                    "finish_reason": final.finish_reason,
                    "prompt_tps": stats.prompt_tps,
                    "generation_tps": stats.generation_tps,
                    "forwards": stats.forwards,
                    "ttft_s": stats.ttft_s,
                    "peak_memory_gb": stats.peak_memory_gb,
                }
            )
        )
    else:
        print()
        print(json.dumps(asdict(stats)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
