"""Several first runs with --demo at once all get the same complete demo checkpoint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlx_model

ROOT = Path(__file__).resolve().parents[2]
BUILD = (
    "import sys; from pathlib import Path; "
    "from llama_chat.models.demo import ensure_demo_checkpoint; "
    "print(ensure_demo_checkpoint(Path(sys.argv[1])))"
)


def test_concurrent_first_runs_share_one_checkpoint(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    builders = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD, str(cache)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in builders]
    assert [rc for rc, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    paths = {out.strip() for _, out, _ in results}
    assert paths == {str(cache / "demo-checkpoint")}
    assert sorted(p.name for p in cache.iterdir()) == ["demo-checkpoint"]  # no temp folders left
    model, tokenizer = mlx_model.load(cache / "demo-checkpoint")
    assert tokenizer.vocab_size == model.config.vocab_size
