"""The Llama 3 tokenizer against its peers.

Oracles: Meta's reference tokenizer (llama_models.llama3.tokenizer) for ids, special tokens and
decoding; transformers' fast tokenizer for the tokenizer.json we write.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_models.llama3 import tokenizer as meta_tokenizer_module

from mlx_model.tokenizer import (
    MAX_NO_WHITESPACES_CHARS,
    TIKTOKEN_MAX_ENCODE_CHARS,
    Tokenizer,
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
