"""Model store: the real huggingface_hub client against a local fake hub; the memory-fit policy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections import namedtuple
from pathlib import Path

import huggingface_hub.constants
import pytest

import mlx_model
from llama_chat.models import hub as hub_module
from llama_chat.models.hub import (
    DownloadCancelled,
    DownloadProgress,
    ModelStoreError,
    NotEnoughDiskSpaceError,
)
from llama_chat.models.store import (
    HUB_REPOS,
    ModelNotAvailableError,
    ModelStore,
    check_fit,
    machine_memory_bytes,
)
from llama_chat.settings import Settings
from mlx_model import LLAMA_3_2_3B, memory_needed
from tests.fake_hub import FakeHub, FakeRepo

REPO_4BIT = HUB_REPOS["4bit"]
REPO_8BIT = HUB_REPOS["8bit"]
NEEDED = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
}
NOT_NEEDED = {"README.md": b"# a model card\n", "pytorch_model.bin": b"\0" * 4096}
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def repo_4bit(tiny_4bit) -> FakeRepo:
    # The tiny checkpoint also has original/tokenizer.model, which the app must not fetch.
    return FakeRepo.from_directory(tiny_4bit, extra=NOT_NEEDED)


@pytest.fixture(scope="module")
def repo_8bit_sharded(tiny_8bit) -> FakeRepo:
    """A sharded layout: an index naming two shards (their contents are never loaded here)."""
    index = {
        "metadata": {"total_size": 8},
        "weight_map": {
            "a.weight": "model-00001-of-00002.safetensors",
            "b.weight": "model-00002-of-00002.safetensors",
        },
    }
    return FakeRepo(
        {
            "config.json": (tiny_8bit / "config.json").read_bytes(),
            "tokenizer.json": b"{}",
            "tokenizer_config.json": b"{}",
            "model.safetensors.index.json": json.dumps(index).encode(),
            "model-00001-of-00002.safetensors": b"shard one",
            "model-00002-of-00002.safetensors": b"shard two",
        }
    )


@pytest.fixture
def hub(repo_4bit, repo_8bit_sharded):
    with FakeHub({REPO_4BIT: repo_4bit, REPO_8BIT: repo_8bit_sharded}) as running:
        yield running


@pytest.fixture
def hf_cache(tmp_path: Path) -> Path:
    return tmp_path / "hf" / "hub"


def make_store(hub: FakeHub, hf_cache: Path, **kwargs) -> ModelStore:
    settings = kwargs.pop("settings", Settings())
    return ModelStore(settings, cache_dir=hf_cache, endpoint=hub.url, **kwargs)


def snapshot_dir(hf_cache: Path, repo_id: str, sha: str) -> Path:
    return hf_cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / sha


# -- downloading -------------------------------------------------------------------------------


def test_download_fetches_only_needed_files_into_the_hub_cache(hub, hf_cache, repo_4bit) -> None:
    events: list[DownloadProgress] = []
    path = make_store(hub, hf_cache).download("4bit", events.append)

    assert path == snapshot_dir(hf_cache, REPO_4BIT, repo_4bit.sha)
    assert {p.name for p in path.iterdir()} == NEEDED
    for name in NEEDED:
        assert (path / name).read_bytes() == repo_4bit.files[name]
    refs = hf_cache / f"models--{REPO_4BIT.replace('/', '--')}" / "refs" / "main"
    assert refs.read_text() == repo_4bit.sha
    fetched = {r.path.rsplit("/", 1)[-1] for r in hub.requests if r.method == "GET"}
    assert not fetched & {"README.md", "pytorch_model.bin", "tokenizer.model"}

    total = sum(len(repo_4bit.files[name]) for name in NEEDED)
    assert events and all(e.bytes_total == total for e in events)
    done = [e.bytes_done for e in events]
    assert done == sorted(done) and done[-1] == total
    assert "model.safetensors" in {e.filename for e in events}
    assert events[-1].eta_s == 0

    model, tokenizer = mlx_model.load(path)  # the engine can run what was downloaded
    assert model.config.quantization is not None and model.config.quantization.bits == 4
    assert tokenizer.decode(tokenizer.encode("hello there")) == "hello there"


def test_after_download_resolve_needs_no_network(hub, hf_cache) -> None:
    path = make_store(hub, hf_cache).download("4bit")
    requests_before = len(hub.requests)
    offline = make_store(hub, hf_cache, offline=True)
    assert offline.resolve("4bit") == path
    assert offline.download("4bit") == path
    assert make_store(hub, hf_cache).download("4bit") == path  # complete: no hub round trip
    assert len(hub.requests) == requests_before


def test_offline_with_nothing_cached_names_the_missing_files(hub, hf_cache) -> None:
    store = make_store(hub, hf_cache, offline=True)
    with pytest.raises(ModelNotAvailableError) as info:
        store.download("4bit")
    message = str(info.value)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"):
        assert name in message
    assert REPO_4BIT in message and "Offline mode is on" in message
    assert info.value.source == REPO_4BIT and "config.json" in info.value.missing
    assert hub.requests == []


def test_offline_comes_from_settings_or_environment(hf_cache, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not ModelStore(Settings(), cache_dir=hf_cache).offline
    assert ModelStore(Settings(offline=True), cache_dir=hf_cache).offline
    assert ModelStore(Settings(), offline=True, cache_dir=hf_cache).offline
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert ModelStore(Settings(), cache_dir=hf_cache).offline


def test_a_dropped_connection_is_resumed_with_a_range_request(
    hub, hf_cache, repo_4bit, monkeypatch
) -> None:
    # huggingface_hub resumes from the last whole chunk it wrote; make chunks small enough
    # that half of the tiny checkpoint holds several.
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 256 * 1024)
    hub.break_once.add("model.safetensors")
    events: list[DownloadProgress] = []
    path = make_store(hub, hf_cache).download("4bit", events.append)
    assert (path / "model.safetensors").read_bytes() == repo_4bit.files["model.safetensors"]
    first, second = hub.gets_of("model.safetensors")
    assert first.range is None and second.range is not None
    resumed_at = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= first.bytes_sent < len(repo_4bit.files["model.safetensors"])
    assert second.bytes_sent == len(repo_4bit.files["model.safetensors"]) - resumed_at
    assert events[-1].bytes_done == events[-1].bytes_total  # resumed bytes not counted twice


def test_not_enough_disk_space_is_refused_before_downloading(hub, hf_cache, monkeypatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(hub_module.shutil, "disk_usage", lambda _: usage(10**9, 0, 10**6))
    with pytest.raises(NotEnoughDiskSpaceError) as info:
        make_store(hub, hf_cache).download("4bit")
    assert "only 0.0 GB is free" in str(info.value) and str(hf_cache) in str(info.value)
    assert not [r for r in hub.requests if "/resolve/" in r.path]


def test_cancel_stops_the_download_and_a_retry_completes_it(hub, hf_cache, repo_4bit) -> None:
    cancel = threading.Event()
    store = make_store(hub, hf_cache)

    def cancel_on_first_report(event: DownloadProgress) -> None:
        cancel.set()

    with pytest.raises(DownloadCancelled):
        store.download("4bit", cancel_on_first_report, cancel=cancel)
    assert store.missing_files("4bit")
    path = store.download("4bit")
    assert (path / "model.safetensors").read_bytes() == repo_4bit.files["model.safetensors"]


def test_sharded_checkpoints_need_every_shard(hub, hf_cache, repo_8bit_sharded) -> None:
    path = make_store(hub, hf_cache).download("8bit")
    shards = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    assert shards <= {p.name for p in path.iterdir()}
    offline = make_store(hub, hf_cache, offline=True)
    assert offline.resolve("8bit") == path
    (path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelNotAvailableError, match="model-00002-of-00002.safetensors"):
        offline.resolve("8bit")


def test_unknown_repository_and_unreachable_hub_are_explained(hub, hf_cache) -> None:
    with pytest.raises(ModelStoreError, match="no repository"):
        make_store(hub, hf_cache).download("bf16")  # the fake hub does not have it
    unreachable = ModelStore(Settings(), cache_dir=hf_cache, endpoint="http://127.0.0.1:9")
    with pytest.raises(ModelStoreError, match="Could not reach the Hugging Face Hub"):
        unreachable.download("4bit")


def test_hf_home_and_hf_endpoint_from_the_environment_are_honoured(hub, tmp_path: Path) -> None:
    # huggingface_hub reads both at import, so this runs in a fresh interpreter.
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf-home"), "HF_ENDPOINT": hub.url}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HF_HUB_OFFLINE", None)
    env["PYTHONPATH"] = str(REPO_ROOT)
    script = (
        "from llama_chat.models.store import ModelStore; from llama_chat.settings import Settings; "
        "print(ModelStore(Settings()).download('4bit'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    printed = Path(out.stdout.strip())
    assert printed.is_relative_to(tmp_path / "hf-home" / "hub")
    assert (printed / "config.json").is_file()


# -- local checkpoints -------------------------------------------------------------------------


def test_a_local_directory_stands_in_for_the_hub(tiny_4bit, tmp_path: Path) -> None:
    store = ModelStore(Settings(model_dir={"4bit": str(tiny_4bit)}), cache_dir=tmp_path)
    assert store.resolve("4bit") == tiny_4bit
    assert store.download("4bit") == tiny_4bit
    assert store.model_id("4bit") == str(tiny_4bit.resolve())
    assert store.model_id("8bit") == REPO_8BIT


def test_an_incomplete_local_directory_names_what_is_missing(tiny_4bit, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(tiny_4bit / "config.json", partial)
    store = ModelStore(Settings(model_dir={"8bit": str(partial)}), cache_dir=tmp_path)
    with pytest.raises(ModelNotAvailableError) as info:
        store.resolve("8bit")
    message = str(info.value)
    assert "model_dir.8bit" in message and str(partial) in message
    assert "tokenizer" in message and "model.safetensors" in message
    assert "config.json" not in info.value.missing


# -- memory ------------------------------------------------------------------------------------


def test_check_fit_explains_with_numbers() -> None:
    estimate = memory_needed(LLAMA_3_2_3B, 8, 32 * 1024, None)
    message = check_fit(estimate, 8 * 2**30)
    assert message is not None
    assert "8-bit needs 3.4 GB of weights + 3.5 GiB of KV cache at 32K context" in message
    assert "has 8 GB" in message
    assert "8-bit KV cache" in message and "4-bit model" in message
    assert "context limit of at most" in message


def test_check_fit_accepts_what_fits() -> None:
    estimate = memory_needed(LLAMA_3_2_3B, 4, 8192, None)
    assert check_fit(estimate, 16 * 2**30) is None
    assert estimate.total == estimate.weights_bytes + estimate.kv_bytes + estimate.working_bytes


def test_machine_memory_is_plausible() -> None:
    assert 2**28 < machine_memory_bytes() < 2**50


def test_check_fit_says_when_only_smaller_weights_help() -> None:
    estimate = memory_needed(LLAMA_3_2_3B, None, 8192, None)
    message = check_fit(estimate, 8 * 2**30)
    assert message is not None and "weights alone do not fit" in message
    assert "context limit" not in message
