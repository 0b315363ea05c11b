"""``python -m mlx_model.convert --model SRC --out DST --bits 4|8 [--group-size 64]``"""

from __future__ import annotations

import argparse
import sys

from .quantize import convert


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlx_model.convert",
        description="Quantize a bf16 Llama 3 checkpoint to MLX 4- or 8-bit.",
    )
    parser.add_argument("--model", required=True, help="bf16 checkpoint directory")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--bits", type=int, choices=(4, 8), required=True)
    parser.add_argument("--group-size", type=int, choices=(32, 64, 128), default=64)
    parser.add_argument(
        "--embed-bits",
        type=int,
        choices=(4, 8),
        default=None,
        help="bits for the (tied) embedding/output head; 8 keeps quality in a 4-bit model",
    )
    args = parser.parse_args(argv)
    # A fixed probe of ordinary token ids: enough positions to see the logit error.
    probe = list(range(1000, 1064))
    try:
        report = convert(args.model, args.out, args.bits, args.group_size, args.embed_bits, probe)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mb = report["size_bytes"] / 1e6
    src_mb = report["source_bytes"] / 1e6
    print(f"wrote {args.out}: {mb:.1f} MB (from {src_mb:.1f} MB)")
    print(
        f"logit error vs source: max {report['logit_max_abs_err']:.4f}, "
        f"mean {report['logit_mean_abs_err']:.5f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
