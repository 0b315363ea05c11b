"""load_checked: the one load path of the CLI and the controller, on real tiny checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest

import mlx_model
from llama_chat.models.loader import LoadedModel, ModelLoadError, load_checked
from llama_chat.settings import Settings


def test_a_local_checkpoint_loads_with_its_id_and_size(tmp_path: Path, tiny_4bit: Path) -> None:
    calls = []
    loaded = load_checked(
        Settings(),
        "4bit",
        cache_dir=tmp_path,
        model=tiny_4bit,
        before_load=lambda: calls.append("before_load"),
    )
    assert isinstance(loaded, LoadedModel)
    assert calls == ["before_load"]
    assert loaded.path == tiny_4bit and loaded.model_id == str(tiny_4bit.resolve())
    assert loaded.quant == "4bit" and loaded.config == loaded.model.config
    assert loaded.config.quantization is not None and loaded.config.quantization.bits == 4
    estimate = mlx_model.memory_needed(loaded.config, 4, 0, None).weights_bytes
    assert abs(loaded.weights_bytes - estimate) < 0.001 * estimate
    assert loaded.tokenizer.decode(loaded.tokenizer.encode("Hello")) == "Hello"


def test_the_demo_loads_as_demo(tmp_path: Path, demo_checkpoint: Path) -> None:
    (tmp_path / "demo-checkpoint").symlink_to(demo_checkpoint, target_is_directory=True)
    loaded = load_checked(Settings(), "4bit", cache_dir=tmp_path, demo=True)
    assert loaded.model_id == "demo" and loaded.path == tmp_path / "demo-checkpoint"


def test_a_model_too_big_for_the_machine_is_refused_before_loading(
    tmp_path: Path, tiny_bf16: Path
) -> None:
    checkpoint = shutil.copytree(tiny_bf16, tmp_path / "huge")
    config = json.loads((checkpoint / "config.json").read_text())
    # The largest shape the config accepts: terabytes of weights; the files never get read.
    config["num_hidden_layers"] = 1024
    config["intermediate_size"] = 1 << 20
    (checkpoint / "config.json").write_text(json.dumps(config))
    calls = []
    with pytest.raises(ModelLoadError) as info:
        load_checked(
            Settings(),
            "bf16",
            cache_dir=tmp_path,
            model=checkpoint,
            before_load=lambda: calls.append("before_load"),
        )
    assert calls == []  # the old model is kept when the new one cannot fit
    assert "bf16 needs" in str(info.value) and "of weights" in str(info.value)


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("no-dir", "no such directory"),
        ("config-not-json", "config.json: not valid JSON"),
        ("no-weights", "no model.safetensors"),
    ],
)
def test_broken_checkpoints_give_one_line(
    tmp_path: Path, tiny_bf16: Path, breakage: str, expected: str
) -> None:
    checkpoint = tmp_path / "broken"
    if breakage != "no-dir":
        shutil.copytree(tiny_bf16, checkpoint)
    if breakage == "config-not-json":
        (checkpoint / "config.json").write_text("{ not json")
    if breakage == "no-weights":
        (checkpoint / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError) as info:
        load_checked(Settings(), "bf16", cache_dir=tmp_path, model=checkpoint)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_offline_with_nothing_downloaded_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelLoadError, match="Offline mode is on"):
        load_checked(Settings(offline=True), "4bit", cache_dir=tmp_path)


def test_unexpected_errors_are_not_disguised(tmp_path: Path, tiny_bf16: Path) -> None:
    def broken_hook() -> None:
        raise KeyError("a bug in the caller")

    with pytest.raises(KeyError):
        load_checked(
            Settings(), "bf16", cache_dir=tmp_path, model=tiny_bf16, before_load=broken_hook
        )
