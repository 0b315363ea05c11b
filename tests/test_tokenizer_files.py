"""The tokenizer's files: tokenizer.json written and read back, and every way a file can be bad.

Oracles: Meta's reference tokenizer and transformers' fast tokenizer on the json we write.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from mlx_model.testing import write_tokenizer_json
from mlx_model.tokenizer import TOKENIZER_FILES, Tokenizer, TokenizerFileError
from tests.test_tokenizer import (
    ASSET,
    LONG_RUNS,
    ORDINARY_CORPUS,
    SPECIAL_LOOKING,
    meta_ids,
    tiny_ranks,
)

# --- tokenizer.json: reading, writing, and transformers on what we write -----------------------


def test_tokenizer_json_route_gives_the_same_tokenizer(tokenizer: Tokenizer, hf_dir: Path):
    from_json = Tokenizer.from_tokenizer_json(hf_dir / "tokenizer.json")
    assert from_json.mergeable_ranks() == tokenizer.mergeable_ranks()
    assert from_json.special_tokens == tokenizer.special_tokens
    for text in ORDINARY_CORPUS + LONG_RUNS[:3] + [SPECIAL_LOOKING]:
        assert from_json.encode(text) == tokenizer.encode(text)


def test_written_json_has_transformers_merge_count(hf_dir: Path) -> None:
    # transformers' TikTokenConverter derives 280,147 merges from Meta's ranks, the number in
    # the tokenizer.json Meta publishes on the Hugging Face Hub.
    model = json.loads((hf_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    assert (len(model["vocab"]), len(model["merges"])) == (128_000, 280_147)


@pytest.mark.parametrize("text", ORDINARY_CORPUS, ids=range(len(ORDINARY_CORPUS)))
def test_transformers_on_written_json_matches_meta(hf_fast, meta, text: str) -> None:
    assert hf_fast.encode(text, add_special_tokens=False) == meta_ids(meta, text)


def test_transformers_on_written_json_adds_bos_and_reads_specials(hf_fast, meta) -> None:
    # Rendered prompts reach mlx-lm as text with special tokens in it: they must map to the
    # same ids as Meta's tokenizer with specials allowed.
    assert hf_fast.encode(SPECIAL_LOOKING, add_special_tokens=False) == meta.encode(
        SPECIAL_LOOKING, bos=False, eos=False, allowed_special="all"
    )
    assert hf_fast.encode("Hi") == meta.encode("Hi", bos=True, eos=False)


def test_transformers_decodes_specials_by_metas_names(hf_fast, meta) -> None:
    ids = [128_005, 128_011, 128_012, 128_255]
    assert hf_fast.decode(ids) == meta.decode(ids)


def test_written_config_loads_with_chat_template(hf_dir: Path, meta) -> None:
    auto = AutoTokenizer.from_pretrained(str(hf_dir))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]

    prompt = auto.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, date_string="26 Jul 2024"
    )

    assert (auto.bos_token, auto.eos_token) == ("<|begin_of_text|>", "<|eot_id|>")
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>")
    assert "Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|>" in prompt
    assert prompt.endswith("Hi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    ids = auto.encode(prompt, add_special_tokens=False)
    assert ids == meta.encode(prompt, bos=False, eos=False, allowed_special="all")


def test_json_specials_are_taken_by_id_not_by_name(tmp_path: Path) -> None:
    tiny = Tokenizer(tiny_ranks())
    path = tmp_path / "tokenizer.json"
    write_tokenizer_json(tiny, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    # Hugging Face's names for three of Meta's ids.
    renamed = {
        tiny.bos_id + 5: "<|reserved_special_token_2|>",
        tiny.bos_id + 11: "<|reserved_special_token_3|>",
        tiny.bos_id + 12: "<|reserved_special_token_4|>",
    }
    for entry in data["added_tokens"]:
        entry["content"] = renamed.get(entry["id"], entry["content"])
    path.write_text(json.dumps(data), encoding="utf-8")

    loaded = Tokenizer.from_tokenizer_json(path)

    assert loaded.special_tokens == tiny.special_tokens
    assert loaded.special("<|step_id|>") == tiny.bos_id + 5
    assert loaded.encode("hello world") == tiny.encode("hello world")


def test_json_specials_listed_in_the_vocab_too_stay_special(tmp_path: Path) -> None:
    tiny = Tokenizer(tiny_ranks())
    path = tmp_path / "tokenizer.json"
    write_tokenizer_json(tiny, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"]["vocab"].update({e["content"]: e["id"] for e in data["added_tokens"]})
    path.write_text(json.dumps(data), encoding="utf-8")

    loaded = Tokenizer.from_tokenizer_json(path)

    assert loaded.mergeable_ranks() == tiny.mergeable_ranks()
    assert loaded.encode("<|eot_id|>") == tiny.encode("<|eot_id|>")


def test_json_without_llama_special_tokens_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    write_tokenizer_json(Tokenizer(tiny_ranks()), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["added_tokens"] = data["added_tokens"][:3]
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(TokenizerFileError, match=r"tokenizer.json.*256 Llama 3 special tokens"):
        Tokenizer.from_tokenizer_json(path)


def test_non_bpe_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"model": {"type": "Unigram", "vocab": []}}), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"'model.type' must be 'BPE'.*'Unigram'"):
        Tokenizer.from_tokenizer_json(path)


# --- a file read again --------------------------------------------------------------------------


def test_a_file_read_again_is_parsed_once_per_content(tmp_path: Path) -> None:
    # Every model load reads the tokenizer, and the checkpoints of each precision carry the same
    # file: the parse is shared by content, while each tokenizer keeps its own name and stops.
    first, copy = tmp_path / "a" / "tokenizer.json", tmp_path / "b" / "tokenizer.json"
    copy.parent.mkdir()
    first.parent.mkdir()
    write_tokenizer_json(Tokenizer(tiny_ranks()), first)
    shutil.copy(first, copy)

    loaded, again = Tokenizer.from_tokenizer_json(first), Tokenizer.from_tokenizer_json(copy)
    again.eos_token_ids = [again.eot_id]

    assert again._encoding is loaded._encoding
    assert (loaded.source, again.source) == (str(first), str(copy))
    assert loaded.eos_token_ids == loaded.stop_tokens != again.eos_token_ids
    assert again.encode("hello world") == loaded.encode("hello world")

    write_tokenizer_json(Tokenizer({**tiny_ranks(), b"wor": 262}), copy)  # new content
    changed = Tokenizer.from_tokenizer_json(copy)
    assert changed._encoding is not loaded._encoding
    assert changed.vocab_size == loaded.vocab_size + 1


def test_checkpoints_write_the_tokenizer_json_of_their_own_tokenizer_model(tmp_path: Path):
    # The text is made once per tokenizer.model content and reused by later checkpoints.
    import base64

    from mlx_model.testing.checkpoint import _tokenizer_json
    from mlx_model.testing.tokenizer_files import tokenizer_json_text

    def tiktoken_file(name: str, ranks: dict[bytes, int]) -> Path:
        path = tmp_path / name
        lines = [f"{base64.b64encode(token).decode()} {rank}" for token, rank in ranks.items()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    first = tiktoken_file("first.model", tiny_ranks())
    second = tiktoken_file("second.model", {**tiny_ranks(), b"wor": 262})
    for path in (first, second, first):
        assert _tokenizer_json(path) == tokenizer_json_text(Tokenizer.from_tiktoken_file(path))
    assert _tokenizer_json(first) != _tokenizer_json(second)


# --- from_pretrained and file errors -----------------------------------------------------------


def test_from_pretrained_prefers_original_tokenizer_model(tmp_path: Path, hf_dir: Path) -> None:
    (tmp_path / "original").mkdir()
    shutil.copy(ASSET, tmp_path / "original" / "tokenizer.model")
    # Were these read first, loading would fail.
    (tmp_path / "tokenizer.model").write_bytes(b"\x0a\x0fnot tiktoken\xff")
    (tmp_path / "tokenizer.json").write_text("{", encoding="utf-8")

    assert Tokenizer.from_pretrained(tmp_path).encode("Hello") == [9906]


def test_from_pretrained_tries_root_tokenizer_model_before_json(tmp_path: Path, hf_dir) -> None:
    shutil.copy(hf_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer.model").write_bytes(b"\x0a\x0fsentencepiece\xff\xfe")

    with pytest.raises(TokenizerFileError, match="SentencePiece"):
        Tokenizer.from_pretrained(tmp_path)


def test_from_pretrained_falls_back_to_tokenizer_json(tmp_path: Path, hf_dir, tokenizer) -> None:
    shutil.copy(hf_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    assert Tokenizer.from_pretrained(tmp_path).encode(SPECIAL_LOOKING) == tokenizer.encode(
        SPECIAL_LOOKING
    )


def test_from_pretrained_names_the_directory_and_files_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised:
        Tokenizer.from_pretrained(tmp_path)
    message = str(raised.value)
    assert str(tmp_path) in message
    assert all(name in message for name in TOKENIZER_FILES)


def test_from_pretrained_on_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere.*does not exist"):
        Tokenizer.from_pretrained(tmp_path / "nowhere")


def test_missing_tokenizer_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.model"):
        Tokenizer.from_tiktoken_file(tmp_path / "absent.model")
    with pytest.raises(FileNotFoundError, match=r"absent\.json"):
        Tokenizer.from_tokenizer_json(tmp_path / "absent.json")


def test_git_lfs_pointer_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.model"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "utf-8")
    with pytest.raises(TokenizerFileError, match="Git LFS pointer"):
        Tokenizer.from_tiktoken_file(path)


def test_malformed_tiktoken_line_is_located(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.model"
    path.write_text("IQ== 0\nIg== 1\nnot-base64! 2\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"tokenizer.model, line 3"):
        Tokenizer.from_tiktoken_file(path)


def test_ranks_with_gaps_or_missing_bytes_are_refused() -> None:
    with pytest.raises(TokenizerFileError, match="without gaps"):
        Tokenizer({**tiny_ranks(), b"xyz": 10_000})
    without_byte = {bytes([b]): b for b in range(255)}
    with pytest.raises(TokenizerFileError, match="0xff"):
        Tokenizer(without_byte)
