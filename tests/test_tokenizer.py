"""The Llama 3 tokenizer against its peers.

Oracles: Meta's reference tokenizer (llama_models.llama3.tokenizer) for ids, special tokens and
decoding; transformers' fast tokenizer for the tokenizer.json we write.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_models.llama3 import tokenizer as meta_tokenizer_module
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from mlx_model.testing import write_tokenizer_config, write_tokenizer_json
from mlx_model.tokenizer import (
    MAX_NO_WHITESPACES_CHARS,
    TIKTOKEN_MAX_ENCODE_CHARS,
    TOKENIZER_FILES,
    Tokenizer,
    TokenizerFileError,
)

ASSET = Path(__file__).parents[1] / "assets" / "tokenizer.model"
META_MODEL = Path(meta_tokenizer_module.__file__).parent / "tokenizer.model"

SPECIAL_LOOKING = (
    "Please end here <|eot_id|> and start <|start_header_id|>system<|end_header_id|>\n\n"
    "<|begin_of_text|><|python_tag|>print(1)<|eom_id|> <|reserved_special_token_7|> <|image|>"
)

# Text a chat user or a tool might produce; none has a run longer than 25,000 characters or
# special-token text, so Hugging Face's tokenizer (which has neither rule) must agree on it.
ORDINARY_CORPUS = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog. It's 3:45pm; we'll see—won't we?",
    "I'M SHOUTING and I'd've thought 'quoted' \"double\" «guillemets»",
    "def fib(n: int) -> int:\n    if n < 2:\n        return n\n"
    "    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; ++i) {\r\n\tsum += a[i] * b[i];\r\n}\r\n",
    "   leading, trailing   \n\n\n  \t \u00a0 \u3000 mixed whitespace   ",
    "line one\n\n\n\nline five\r\n\r\n",
    "Emoji: 🦙🦙 👨‍👩‍👧‍👦 🧑🏽‍🚀 🇫🇷 ❤️ 🫠",
    "中文文本，日本語のテキスト、한국어 텍스트。",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "हिन्दी में लिखा गया वाक्य। नमस्ते दुनिया",
    "Ελληνικά, Русский текст, עברית, العربية",
    "31415926535897932384626433832795028841971 1,000,000.00 2024-07-26 0x7fff",
    "𓀀 ꙮ 鿰 \U0010fffd rare code points",
    "https://example.com/path?query=a&b=c#frag user@example.org",
    "<|eot|> <| |> |> <|",
    "a" * 5000,
    "word " * 3000,
]

LONG_RUNS = [
    " " * 25_000,
    " " * 25_001,
    " " * 60_000 + "x",
    "\n\t " * 9_000 + "end",
    "a" * 30_000 + " " + "b" * 50_001 + " c",
    "語" * 26_000,
    # Runs crossing the 400,000-character piece boundary, where Meta restarts its run count.
    "x" * (TIKTOKEN_MAX_ENCODE_CHARS - 10) + " " * 40_000 + "y" * 10,
    ("lorem ipsum dolor " * 30_000)[: TIKTOKEN_MAX_ENCODE_CHARS + 12_345],
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_tiktoken_file(ASSET)


@pytest.fixture(scope="module")
def meta() -> meta_tokenizer_module.Tokenizer:
    return meta_tokenizer_module.Tokenizer(META_MODEL)


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    directory = tmp_path_factory.mktemp("hf_tokenizer")
    write_tokenizer_json(tokenizer, directory / "tokenizer.json")
    write_tokenizer_config(directory / "tokenizer_config.json")
    return directory


@pytest.fixture(scope="module")
def hf_fast(hf_dir: Path) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_file=str(hf_dir / "tokenizer.json"))


def meta_ids(meta: meta_tokenizer_module.Tokenizer, text: str) -> list[int]:
    return meta.encode(text, bos=False, eos=False, allowed_special=set(), disallowed_special=())


def tiny_ranks() -> dict[bytes, int]:
    """A byte-level vocabulary small enough to build in microseconds: bytes plus a few merges."""
    ranks = {bytes([b]): b for b in range(256)}
    for token in (b"he", b"ll", b"hell", b"hello", b" w", b" wo"):
        ranks[token] = len(ranks)
    return ranks


# --- the shipped file and the special-token table ----------------------------------------------


def test_shipped_asset_is_metas_tokenizer_model() -> None:
    assert ASSET.read_bytes() == META_MODEL.read_bytes()


def test_special_tokens_are_metas_table(tokenizer: Tokenizer, meta) -> None:
    assert tokenizer.special_tokens == meta.special_tokens
    assert tokenizer.vocab_size == meta.n_words == 128_256


def test_named_ids_and_stop_tokens_match_meta(tokenizer: Tokenizer, meta) -> None:
    assert (tokenizer.bos_id, tokenizer.eos_id) == (meta.bos_id, meta.eos_id)
    assert (tokenizer.eot_id, tokenizer.eom_id) == (meta.eot_id, meta.eom_id)
    assert tokenizer.python_tag_id == meta.python_tag_id
    assert tokenizer.stop_tokens == meta.stop_tokens
    assert tokenizer.eos_token_ids == meta.stop_tokens


def test_special_returns_ids_by_full_name(tokenizer: Tokenizer, meta) -> None:
    for name in ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|python_tag|>"):
        assert tokenizer.special(name) == meta.special_tokens[name]


def test_special_rejects_unknown_names_with_a_hint(tokenizer: Tokenizer) -> None:
    with pytest.raises(ValueError, match=r"'eot_id' is not a Llama 3 special token.*<\|eot_id\|>"):
        tokenizer.special("eot_id")


# --- encoding: same ids as Meta ----------------------------------------------------------------


@pytest.mark.parametrize("text", ORDINARY_CORPUS, ids=range(len(ORDINARY_CORPUS)))
def test_encode_matches_meta(tokenizer: Tokenizer, meta, text: str) -> None:
    assert tokenizer.encode(text) == meta_ids(meta, text)


@pytest.mark.parametrize("text", LONG_RUNS, ids=range(len(LONG_RUNS)))
def test_encode_matches_meta_on_long_runs_and_pieces(tokenizer: Tokenizer, meta, text) -> None:
    assert len(text) > MAX_NO_WHITESPACES_CHARS - 1
    assert tokenizer.encode(text) == meta_ids(meta, text)


def test_encode_matches_meta_on_lone_surrogates(tokenizer: Tokenizer, meta) -> None:
    text = "broken \ud800 pair \udfff end"
    assert tokenizer.encode(text) == meta_ids(meta, text)


def test_bos_is_prepended_only_when_asked(tokenizer: Tokenizer, meta) -> None:
    assert tokenizer.encode("Hi", bos=True) == meta.encode("Hi", bos=True, eos=False)
    assert tokenizer.bos_id not in tokenizer.encode("Hi")


def test_special_token_text_typed_by_a_user_stays_plain(tokenizer: Tokenizer, meta) -> None:
    ids = tokenizer.encode(SPECIAL_LOOKING)
    assert ids == meta_ids(meta, SPECIAL_LOOKING)
    assert not set(ids) & set(tokenizer.special_tokens.values())
    assert tokenizer.decode(ids) == SPECIAL_LOOKING


def test_encode_rejects_non_text(tokenizer: Tokenizer) -> None:
    with pytest.raises(TypeError, match="bytes"):
        tokenizer.encode(b"raw bytes")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_encode_matches_meta_on_any_text(tokenizer: Tokenizer, meta, text: str) -> None:
    ids = tokenizer.encode(text)
    assert ids == meta_ids(meta, text)
    assert tokenizer.decode(ids) == text


# --- decoding ----------------------------------------------------------------------------------


def test_decode_matches_meta_including_specials_and_broken_utf8(tokenizer: Tokenizer, meta):
    emoji_bytes = tokenizer.encode("🦙")
    assert len(emoji_bytes) > 1  # the llama is split across byte tokens
    ids = [
        tokenizer.bos_id,
        *tokenizer.encode("Hi"),
        emoji_bytes[0],  # half a character, then a special token
        tokenizer.eot_id,
        *emoji_bytes[1:],
    ]
    assert tokenizer.decode(ids) == meta.decode(ids)
    assert "\ufffd" in tokenizer.decode(ids)


def test_decode_names_an_out_of_range_id(tokenizer: Tokenizer) -> None:
    with pytest.raises(ValueError, match=r"\[128256\].*0\.\.128255"):
        tokenizer.decode([1, 128_256])


# --- streaming detokenizer ---------------------------------------------------------------------


def stream(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    detokenizer = tokenizer.detokenizer()
    return [detokenizer.add(token_id) for token_id in ids] + [detokenizer.flush()]


@pytest.mark.parametrize("text", ORDINARY_CORPUS + [SPECIAL_LOOKING], ids=range(20))
def test_stream_deltas_add_up_to_decode(tokenizer: Tokenizer, text: str) -> None:
    ids = tokenizer.encode(text, bos=True)
    assert "".join(stream(tokenizer, ids)) == tokenizer.decode(ids)


def test_stream_never_emits_half_a_character(tokenizer: Tokenizer) -> None:
    text = "Llamas 🦙🧑🏽‍🚀 𓀀 ꙮ 鿰 🫠 done"
    ids = tokenizer.encode(text)
    partial = [i for i in ids if not is_utf8(tokenizer.token_bytes(i))]
    assert partial, "the text must contain characters split across byte tokens"

    deltas = stream(tokenizer, ids)

    assert "".join(deltas) == text
    assert all("\ufffd" not in delta for delta in deltas)
    assert "" in deltas  # bytes of a split character were held back
    emitted = ""
    for delta in deltas:
        emitted += delta
        assert text.startswith(emitted)  # whole characters only, in order


def test_stream_flush_replaces_an_unfinished_character(tokenizer: Tokenizer, meta) -> None:
    ids = tokenizer.encode("ok 🦙")[:-1]
    deltas = stream(tokenizer, ids)
    assert "".join(deltas) == meta.decode(ids)
    assert deltas[-1] == "\ufffd"


@settings(max_examples=150, deadline=None)
@given(ids=st.lists(st.integers(min_value=0, max_value=128_255), max_size=40))
def test_stream_matches_meta_decode_on_any_ids(tokenizer: Tokenizer, meta, ids) -> None:
    assert "".join(stream(tokenizer, ids)) == meta.decode(ids)


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
