"""Shared fixtures: the real Llama 3 tokenizer file and tiny generated checkpoints.

The checkpoints are built once per test run and shared: with pytest-xdist (``-n 2``) the first
worker to need one builds it in the run's folder while the others wait for it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mlx_model import testing
from mlx_model.testing import make_tiny_checkpoint, write_tokenizer_config, write_tokenizer_json
from mlx_model.testing.gguf import DEFAULT_CACHE_DIR
from mlx_model.tokenizer import Tokenizer

SLOW_FIRST = (
    "test_smollm2_parity.py",
    "test_batch.py",
    "test_parity.py",
    "test_smollm2_lookup.py",
    "test_tui_tools.py",
    "test_tui_long_chats.py",
    "test_read_ahead.py",
    "test_summarize_batch.py",
)
"""Modules whose tests take longest (up to half a minute each): run first, so that the two
workers (-n 2) share them out and end together on short tests, rather than one worker still
running a long one alone at the end."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Stable: each module's tests stay together and in order (module fixtures are built once).
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)


def meta_tokenizer_model() -> Path:
    import llama_models.llama3

    return Path(llama_models.llama3.__file__).parent / "tokenizer.model"


@pytest.fixture(scope="session")
def tokenizer_model_path() -> Path:
    return meta_tokenizer_model()


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Path]) -> Path:
    """``build(an empty folder)`` once per test run, by whichever worker asks first."""
    base = factory.getbasetemp()
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # shared by the workers
    folder, done = run / name, run / f"{name}.done"
    with open(run / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            folder.mkdir(exist_ok=True)
            done.write_text(str(build(folder)))
    return Path(done.read_text())


@pytest.fixture(scope="session")
def tiny_bf16(tmp_path_factory, tokenizer_model_path) -> Path:
    return built_once(
        tmp_path_factory, "tiny-bf16", lambda d: make_tiny_checkpoint(d, tokenizer_model_path)
    )


@pytest.fixture(scope="session")
def tiny_f32(tmp_path_factory, tokenizer_model_path) -> Path:
    import mlx.core as mx

    return built_once(
        tmp_path_factory,
        "tiny-f32",
        lambda d: make_tiny_checkpoint(d, tokenizer_model_path, dtype=mx.float32),
    )


@pytest.fixture(scope="session")
def tiny_4bit(tmp_path_factory, tokenizer_model_path) -> Path:
    return built_once(
        tmp_path_factory,
        "tiny-4bit",
        lambda d: make_tiny_checkpoint(d, tokenizer_model_path, quant_bits=4),
    )


@pytest.fixture(scope="session")
def tiny_8bit(tmp_path_factory, tokenizer_model_path) -> Path:
    return built_once(
        tmp_path_factory,
        "tiny-8bit",
        lambda d: make_tiny_checkpoint(d, tokenizer_model_path, quant_bits=8),
    )


@pytest.fixture(scope="session")
def counting_checkpoint(tmp_path_factory, tokenizer_model_path) -> Path:
    """A scripted model that answers every message with tests.scripted.WORDS."""
    from tests.scripted import make_counting_checkpoint

    return built_once(
        tmp_path_factory,
        "counting",
        lambda d: make_counting_checkpoint(d, tokenizer_model_path),
    )


@pytest.fixture(scope="session")
def smollm2_checkpoint() -> Path:
    """SmolLM2-135M-Instruct (trained) as a bf16 checkpoint, converted once per GGUF file (about
    40 s) and kept in ~/.cache/llama-chat-tests, or $LLAMA_CHAT_TEST_CACHE, across runs."""
    cache = os.environ.get("LLAMA_CHAT_TEST_CACHE")
    root = Path(cache) if cache else DEFAULT_CACHE_DIR
    root.mkdir(parents=True, exist_ok=True)
    # The smollm2 tests start first on both workers (SLOW_FIRST): on a fresh machine one
    # worker converts while the other waits, rather than both converting at once.
    with open(root / ".convert.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return testing.smollm2_checkpoint(root)


@pytest.fixture(scope="session")
def demo_checkpoint(tmp_path_factory) -> Path:
    from llama_chat.models.demo import ensure_demo_checkpoint

    # Built once per run (a few seconds); every app home below links to it.
    return built_once(tmp_path_factory, "demo-cache", ensure_demo_checkpoint)


def link_demo_checkpoint(home: Path, demo_checkpoint: Path):
    """Make ``home`` (a LLAMA_CHAT_HOME) an app home whose demo checkpoint is already built: a
    link to the session's, so no test spends its time building the 44 MB demo again."""
    from llama_chat.paths import AppPaths

    app_paths = AppPaths.from_env({"LLAMA_CHAT_HOME": str(home)}).ensure()
    (app_paths.cache_dir / "demo-checkpoint").symlink_to(demo_checkpoint, target_is_directory=True)
    return app_paths


@pytest.fixture
def paths(tmp_path, monkeypatch, demo_checkpoint):
    """An app home in tmp_path (LLAMA_CHAT_HOME) whose demo checkpoint is already built."""
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    return link_demo_checkpoint(tmp_path / "home", demo_checkpoint)


@pytest.fixture
def demo_home(tmp_path, monkeypatch, demo_checkpoint) -> Path:
    """tmp_path as LLAMA_CHAT_HOME, its demo checkpoint already built (see ``paths``)."""
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path))
    link_demo_checkpoint(tmp_path, demo_checkpoint)
    return tmp_path


# --- the Llama 3 tokenizer and its oracles (tests/test_tokenizer*.py) ---------------------------


# Session-wide: each parses 128K ranks, and three test modules ask for them.
@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_tiktoken_file(Path(__file__).parents[1] / "assets" / "tokenizer.model")


@pytest.fixture(scope="session")
def meta():
    from llama_models.llama3 import tokenizer as meta_tokenizer_module

    return meta_tokenizer_module.Tokenizer(meta_tokenizer_model())


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    directory = tmp_path_factory.mktemp("hf_tokenizer")
    write_tokenizer_json(tokenizer, directory / "tokenizer.json")
    write_tokenizer_config(directory / "tokenizer_config.json")
    return directory


@pytest.fixture(scope="module")
def hf_fast(hf_dir: Path):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(hf_dir / "tokenizer.json"))


@pytest.fixture
def anyio_backend() -> str:
    """The TUI tests (marked anyio) run on asyncio, Textual's loop."""
    return "asyncio"


# --- the saved-chats database (tests/test_sessions*.py) ----------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sessions.db"


@pytest.fixture
def store(db_path: Path):
    from llama_chat.store.sessions import SessionStore

    with SessionStore.open(db_path) as opened:
        yield opened
