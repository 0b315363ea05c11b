"""The Llama 3 tokenizer: byte-level BPE on tiktoken, with Meta's 256 special tokens.

Encoding matches Meta's reference tokenizer (llama_models.llama3.tokenizer) id for id: the same
pre-tokenization regex, the same 400,000-character pieces and the same cuts inside runs of more
than 25,000 whitespace or non-whitespace characters (tiktoken issue #195). User text never
becomes a special token: the chat template asks for special ids by name with `special()`.

Sources a checkpoint can carry, all read here without transformers or llama_models:
- `original/tokenizer.model` / `tokenizer.model`: tiktoken's base64 format, "<b64 bytes> <rank>";
- `tokenizer.json`: Hugging Face byte-level BPE, whose vocabulary spells bytes with GPT-2's
  byte-to-unicode alphabet. Its added tokens are matched to Meta's table by id, because Hugging
  Face names some of them differently (128005, 128011 and the reserved block).

`mlx_model.testing` writes these files the other way, for generated test checkpoints.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import tiktoken

# Meta's pre-tokenization pattern; tokenizer.json files of Llama 3 checkpoints carry the same one.
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# tiktoken panics on longer inputs, so Meta encodes text in pieces of this many characters.
TIKTOKEN_MAX_ENCODE_CHARS = 400_000
# tiktoken's BPE is quadratic in the length of one pre-token; Meta cuts longer runs here.
MAX_NO_WHITESPACES_CHARS = 25_000

NUM_SPECIAL_TOKENS = 256
_NAMED_SPECIAL_TOKENS = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|step_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",  # end of message: the model waits for a tool result
    "<|eot_id|>",  # end of turn
    "<|python_tag|>",
    "<|image|>",
)
# Meta's table, in id order starting right after the mergeable ranks.
SPECIAL_TOKEN_NAMES: tuple[str, ...] = _NAMED_SPECIAL_TOKENS + tuple(
    f"<|reserved_special_token_{2 + i}|>"
    for i in range(NUM_SPECIAL_TOKENS - len(_NAMED_SPECIAL_TOKENS))
)

# Where from_pretrained looks, in this order: Meta's own file first, then Hugging Face's.
TOKENIZER_FILES = ("original/tokenizer.model", "tokenizer.model", "tokenizer.json")

_WHITESPACE_OR_NOT_RUN = re.compile(r"\s+|\S+")


class TokenizerFileError(ValueError):
    """A tokenizer file exists but cannot be used (wrong format, corrupt, not Llama 3)."""


class StreamingDetokenizer:
    """Turns generated token ids into text deltas as they arrive.

    Bytes of a character split across tokens are held back until the character is complete,
    so no delta ever ends in half a UTF-8 character. Python's incremental UTF-8 decoder does
    the work in O(token length) per token and replaces invalid bytes exactly as a one-shot
    `bytes.decode(errors="replace")` would, hence deltas + `flush()` == `Tokenizer.decode(ids)`.
    """

    def __init__(self, token_bytes: Callable[[int], bytes]) -> None:
        self._token_bytes = token_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def add(self, token_id: int) -> str:
        """Feed one token; return the text it completes (possibly "")."""
        return self._decoder.decode(self._token_bytes(token_id))

    def flush(self) -> str:
        """End of stream: return what is held back (an unfinished character becomes U+FFFD)."""
        return self._decoder.decode(b"", final=True)


class Tokenizer:
    """Llama 3 tokenizer built from tiktoken mergeable ranks (`bytes -> rank`, ranks 0..n-1)."""

    def __init__(self, mergeable_ranks: dict[bytes, int], *, name: str = "llama3") -> None:
        _check_ranks(mergeable_ranks, name)
        self._setup(_llama3_encoding(mergeable_ranks), len(mergeable_ranks), name)

    def _setup(self, encoding: tiktoken.Encoding, num_base_tokens: int, name: str) -> None:
        self.source = name
        """The file this tokenizer was read from (or the name it was given)."""
        self.special_tokens: dict[str, int] = {
            token: num_base_tokens + i for i, token in enumerate(SPECIAL_TOKEN_NAMES)
        }
        self._encoding = encoding
        self.num_base_tokens = num_base_tokens
        self.vocab_size = num_base_tokens + NUM_SPECIAL_TOKENS
        self.bos_id = self.special_tokens["<|begin_of_text|>"]
        self.eos_id = self.special_tokens["<|end_of_text|>"]
        self.eot_id = self.special_tokens["<|eot_id|>"]
        self.eom_id = self.special_tokens["<|eom_id|>"]
        self.python_tag_id = self.special_tokens["<|python_tag|>"]
        self.stop_tokens = [self.eos_id, self.eom_id, self.eot_id]
        # What generation stops on; load() may replace it with the checkpoint's eos_token_id list.
        self.eos_token_ids: list[int] = list(self.stop_tokens)

    # --- construction from files -------------------------------------------------------------

    @classmethod
    def from_tiktoken_file(cls, path: str | Path) -> Tokenizer:
        """Read Meta's `tokenizer.model` (one "<base64 token> <rank>" per line)."""
        return cls._from_file(Path(path), _read_tiktoken_ranks)

    @classmethod
    def from_tokenizer_json(cls, path: str | Path) -> Tokenizer:
        """Read a Hugging Face byte-level BPE `tokenizer.json` of a Llama 3 checkpoint."""
        return cls._from_file(Path(path), _read_tokenizer_json_ranks)

    @classmethod
    def _from_file(cls, path: Path, read_ranks: Callable[[Path], dict[bytes, int]]) -> Tokenizer:
        tokenizer = cls.__new__(cls)
        tokenizer._setup(*_parsed_file(path, read_ranks), str(path))
        return tokenizer

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> Tokenizer:
        """Load from a checkpoint directory, trying each of TOKENIZER_FILES in order."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(
                f"Checkpoint directory {directory} does not exist (or is not a directory); "
                "check the model path or download the checkpoint again."
            )
        for relative in TOKENIZER_FILES:
            candidate = directory / relative
            if candidate.is_file():
                if candidate.suffix == ".json":
                    return cls.from_tokenizer_json(candidate)
                return cls.from_tiktoken_file(candidate)
        raise FileNotFoundError(
            f"No tokenizer in {directory}: looked for {', '.join(TOKENIZER_FILES)}. "
            "The checkpoint download may be incomplete; download it again."
        )

    # --- encoding and decoding ---------------------------------------------------------------

    def encode(self, text: str, *, bos: bool = False) -> list[int]:
        """Token ids of `text`, optionally after <|begin_of_text|>.

        Never produces special tokens: "<|eot_id|>" typed by a user is encoded as plain text.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, not {type(text).__name__}")
        ids = [self.bos_id] if bos else []
        for piece in _encodable_pieces(text):
            ids.extend(self._encoding.encode_ordinary(piece))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`; special ids become their names, invalid UTF-8 becomes U+FFFD."""
        ids = list(ids)
        try:
            return self._encoding.decode(ids)
        except (KeyError, OverflowError, TypeError) as err:
            bad = [i for i in ids if not self._is_valid_id(i)]
            raise ValueError(
                f"Cannot decode token ids {bad[:5]}: valid ids are 0..{self.vocab_size - 1}. "
                "The model's vocabulary may not match this tokenizer."
            ) from err

    def special(self, name: str) -> int:
        """Id of a special token by its full name, e.g. special("<|eot_id|>")."""
        try:
            return self.special_tokens[name]
        except KeyError:
            raise ValueError(
                f"{name!r} is not a Llama 3 special token; names look like '<|eot_id|>' "
                f"(the table runs from '<|begin_of_text|>' to '{SPECIAL_TOKEN_NAMES[-1]}')."
            ) from None

    def detokenizer(self) -> StreamingDetokenizer:
        """A fresh streaming detokenizer for one generated message."""
        return StreamingDetokenizer(self.token_bytes)

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token (a special token's name for special ids)."""
        try:
            return self._encoding.decode_single_token_bytes(token_id)
        except (KeyError, OverflowError, TypeError) as err:
            raise ValueError(
                f"Cannot decode token id {token_id!r}: valid ids are 0..{self.vocab_size - 1}. "
                "The model's vocabulary may not match this tokenizer."
            ) from err

    def mergeable_ranks(self) -> dict[bytes, int]:
        """The BPE ranks this tokenizer was built from, rebuilt on demand (they are not kept)."""
        return {self._encoding.decode_single_token_bytes(i): i for i in range(self.num_base_tokens)}

    def _is_valid_id(self, token_id: object) -> bool:
        return isinstance(token_id, int) and 0 <= token_id < self.vocab_size


_PARSED_FILES: dict[tuple[str, bytes], tuple[tiktoken.Encoding, int]] = {}
_parsed_files_lock = threading.Lock()


def _parsed_file(
    path: Path, read_ranks: Callable[[Path], dict[bytes, int]]
) -> tuple[tiktoken.Encoding, int]:
    """(encoding, number of mergeable ranks) of a tokenizer file, parsed once per content: a
    parse takes a second or two, and the same file comes back (every model load reads it, and
    the 4-bit, 8-bit and bf16 checkpoints carry the same one). An Encoding is immutable."""
    try:
        key = (read_ranks.__name__, hashlib.sha256(path.read_bytes()).digest())
    except OSError:
        key = None  # unreadable: the reader below says why
    parsed = _PARSED_FILES.get(key) if key else None
    if parsed is None:
        ranks = read_ranks(path)
        _check_ranks(ranks, str(path))
        parsed = (_llama3_encoding(ranks), len(ranks))
        with _parsed_files_lock:
            _PARSED_FILES[key] = parsed
            while len(_PARSED_FILES) > 4:  # a few models' worth; each holds tens of MB
                del _PARSED_FILES[next(iter(_PARSED_FILES))]  # the oldest
    return parsed


def _llama3_encoding(ranks: dict[bytes, int]) -> tiktoken.Encoding:
    special = {token: len(ranks) + i for i, token in enumerate(SPECIAL_TOKEN_NAMES)}
    return tiktoken.Encoding(
        "llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks, special_tokens=special
    )


def _check_ranks(mergeable_ranks: dict[bytes, int], source: str) -> None:
    # Special ids follow the ranks, so they must be exactly 0..n-1 (as in Meta's file); and a
    # byte-level BPE can only encode every input if each single byte is a token.
    ranks = set(mergeable_ranks.values())
    if len(ranks) != len(mergeable_ranks) or ranks != set(range(len(mergeable_ranks))):
        raise TokenizerFileError(
            f"{source}: token ranks must be unique and run 0..{len(mergeable_ranks) - 1} "
            "without gaps; the tokenizer file is corrupt or not a Llama 3 tokenizer."
        )
    missing = [b for b in range(256) if bytes([b]) not in mergeable_ranks]
    if missing:
        raise TokenizerFileError(
            f"{source}: {len(missing)} single bytes (first: {missing[0]:#04x}) have no token, "
            "so some text could not be encoded; this is not a byte-level BPE tokenizer."
        )


def _encodable_pieces(text: str) -> Iterator[str]:
    """Meta's slicing of text before tiktoken, which changes tokens at the cuts, so it is kept."""
    for start in range(0, len(text), TIKTOKEN_MAX_ENCODE_CHARS):
        chunk = text[start : start + TIKTOKEN_MAX_ENCODE_CHARS]
        if len(chunk) <= MAX_NO_WHITESPACES_CHARS:
            yield chunk  # no run can be too long; the common case for chat text
            continue
        # Meta restarts its count after every cut, so a run is cut every MAX chars from its start.
        # Regex \s and str.isspace() (Meta's test) agree on every character.
        limit = MAX_NO_WHITESPACES_CHARS
        slice_start = 0
        for run in _WHITESPACE_OR_NOT_RUN.finditer(chunk):
            run_start, run_end = run.span()
            for cut in range(run_start + limit, run_end, limit):
                yield chunk[slice_start:cut]
                slice_start = cut
        yield chunk[slice_start:]


def _read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    if not path.is_file():
        raise FileNotFoundError(f"Tokenizer file not found: {path}")
    raw = path.read_bytes()
    if raw.startswith(b"version https://git-lfs"):
        raise TokenizerFileError(
            f"{path} is a Git LFS pointer, not the tokenizer; fetch the real file "
            "(git lfs pull, or download the checkpoint again)."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenizerFileError(
            f"{path} is not a tiktoken BPE file (expected text lines '<base64 token> <rank>'); "
            "a binary tokenizer.model is a SentencePiece model from Llama 2 or earlier."
        ) from None
    ranks: dict[bytes, int] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            token_b64, rank = line.split()
            token = base64.b64decode(token_b64, validate=True)
            ranks[token] = int(rank)
        except (ValueError, binascii.Error):
            raise TokenizerFileError(
                f"{path}, line {line_number}: expected '<base64 token> <rank>', got {line[:60]!r}"
            ) from None
    if not ranks:
        raise TokenizerFileError(f"{path} holds no tokens; download the checkpoint again.")
    return ranks


@cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, used by byte-level BPE vocabularies.

    Printable Latin-1 bytes map to themselves; the others (controls, space, ...) to U+0100 on.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + shifted)
            shifted += 1
    return mapping


def _read_tokenizer_json_ranks(path: Path) -> dict[bytes, int]:
    if not path.is_file():
        raise FileNotFoundError(f"Tokenizer file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TokenizerFileError(
            f"{path} is not valid JSON ({err}); download the checkpoint again."
        ) from None
    except RecursionError:
        raise TokenizerFileError(
            f"{path} is nested too deeply to be a tokenizer.json; download the checkpoint again."
        ) from None
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE":
        raise TokenizerFileError(
            f"{path}: 'model.type' must be 'BPE' for a Llama 3 tokenizer; "
            f"found {model.get('type') if isinstance(model, dict) else None!r}."
        )
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        raise TokenizerFileError(f"{path}: 'model.vocab' is missing or not an object.")
    added_ids = _added_token_ids(data.get("added_tokens", []), path)

    byte_of_char = {char: b for b, char in bytes_to_unicode().items()}
    ranks: dict[bytes, int] = {}
    for token, token_id in vocab.items():
        if isinstance(token_id, bool) or not isinstance(token_id, int):
            raise TokenizerFileError(
                f"{path}: vocab token {token!r} has id {token_id!r}; ids must be integers. "
                "The file is corrupt; download the checkpoint again."
            )
        if token_id in added_ids:
            continue  # special tokens are defined by Meta's table below, not by the vocab
        try:
            ranks[bytes(byte_of_char[char] for char in token)] = token_id
        except KeyError:
            raise TokenizerFileError(
                f"{path}: vocab token {token!r} (id {token_id}) is not in the byte-level "
                "alphabet; this is not a byte-level BPE (Llama 3) tokenizer."
            ) from None

    expected = set(range(len(ranks), len(ranks) + NUM_SPECIAL_TOKENS))
    if added_ids != expected:
        raise TokenizerFileError(
            f"{path}: expected the {NUM_SPECIAL_TOKENS} Llama 3 special tokens in "
            f"'added_tokens' with ids {len(ranks)}..{len(ranks) + NUM_SPECIAL_TOKENS - 1}; "
            f"found {len(added_ids)} added tokens. This is not a Llama 3 tokenizer.json."
        )
    return ranks


def _added_token_ids(added_tokens: object, path: Path) -> set[int]:
    if not isinstance(added_tokens, list):
        raise TokenizerFileError(f"{path}: 'added_tokens' must be a list.")
    ids: set[int] = set()
    for entry in added_tokens:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int):
            raise TokenizerFileError(f"{path}: an 'added_tokens' entry has no integer 'id'.")
        ids.add(entry["id"])
    return ids
