"""Broken tokenizer.json files give TokenizerFileError naming the file, never a TypeError or a
RecursionError (which left the app's loading screen spinning)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llama_chat.models.loader import ModelLoadError, load_checked
from llama_chat.settings import Settings
from mlx_model import Tokenizer, TokenizerFileError
from mlx_model.testing import write_tokenizer_json


def tiny_tokenizer_json(path: Path) -> dict:
    ranks = {bytes([b]): b for b in range(256)} | {b"he": 256, b"ll": 257}
    write_tokenizer_json(Tokenizer(ranks), path)
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("bad_id", [[5], {"id": 5}, "5", 5.0, True])
def test_a_vocab_id_that_is_not_an_integer_names_the_file(tmp_path: Path, bad_id) -> None:
    path = tmp_path / "tokenizer.json"
    data = tiny_tokenizer_json(path)
    data["model"]["vocab"]["he"] = bad_id
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"tokenizer\.json: vocab token 'he' has id"):
        Tokenizer.from_tokenizer_json(path)


def test_a_deeply_nested_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"tokenizer\.json is nested too deeply"):
        Tokenizer.from_tokenizer_json(path)


def test_the_checked_load_turns_it_into_one_line(tmp_path: Path, tiny_4bit: Path) -> None:
    checkpoint = shutil.copytree(tiny_4bit, tmp_path / "broken")
    shutil.rmtree(checkpoint / "original")  # so tokenizer.json is the one read
    data = json.loads((checkpoint / "tokenizer.json").read_text(encoding="utf-8"))
    data["model"]["vocab"]["!"] = [0]
    (checkpoint / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelLoadError) as info:
        load_checked(Settings(), "4bit", cache_dir=tmp_path / "cache", model=checkpoint)
    assert "tokenizer.json" in str(info.value) and "\n" not in str(info.value)
