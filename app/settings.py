"""User settings: defaults, validation on load, atomic save.

The settings file is JSON (``settings.json`` in the config dir). Loading never fails: each key is
validated on its own, and a bad value is reported (key, value, why) and replaced by its default, so
one typo does not throw away the rest of the file. A file that is not JSON at all is moved aside,
never overwritten, and the app starts from defaults.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_chat.paths import StartupError, atomic_write_text, move_aside
from mlx_model import SAMPLING_LIMITS, SamplingParams
from mlx_model.files import MiB, RefusedFileError, parse_json, read_bytes

MAX_SETTINGS_BYTES = 1 * MiB
"""A settings file is a few KiB; past this it is not one (and is not read into memory)."""

QUANT_LEVELS: tuple[str, ...] = ("4bit", "8bit", "bf16")
"""Checkpoint precisions the app knows how to fetch, smallest first."""

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant running locally on the user's computer. "
    "Answer clearly and concisely, and say so when you are not sure."
)


@dataclass
class Settings:
    """Everything the user can change. Field docstrings double as help text."""

    quant: str = "4bit"
    """Checkpoint precision: "4bit" (smallest, default), "8bit" or "bf16"."""

    model_dir: dict[str, str] = field(default_factory=dict)
    """Local checkpoint directory to use instead of downloading, per quant level."""

    temperature: float = 0.6
    """Sampling temperature; 0 always picks the most likely token.

    The sampling fields accept what the engine's SAMPLING_LIMITS say (mlx_model.sampling), which
    also gives their help text."""

    top_p: float = 0.9
    """Nucleus sampling: keep the smallest set of tokens whose probability adds up to this."""

    top_k: int = 0
    """Keep only the k most likely tokens; 0 turns this off."""

    min_p: float = 0.0
    """Drop tokens less likely than this fraction of the top token; 0 turns this off."""

    repetition_penalty: float = 1.0
    """Penalise tokens already in the context; 1.0 turns this off."""

    max_tokens: int = 1024
    """Longest answer, in tokens."""

    seed: int | None = None
    """Random seed for reproducible answers; empty for a fresh one each time."""

    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """Instructions given to the model at the start of every new chat."""

    context_limit: int = 8192
    """Most tokens kept in the conversation (and the KV cache) at once."""

    kv_bits: int | None = None
    """Store the KV cache in 8 bits to halve its memory; empty for full precision."""

    theme: str = "textual-dark"
    """Colour theme of the terminal interface."""

    tools: bool = False
    """Offer the built-in tools (calculator, files) to new chats; their descriptions make every
    prompt about 500 tokens longer, so a new chat's first answer comes later."""

    allowed_folders: list[str] = field(default_factory=list)
    """Folders the built-in file tools may read."""

    offline: bool = False
    """Never contact the Hugging Face Hub; use only files already on disk."""

    cache_budget_gb: float = 4.0
    """Disk space for saved KV caches (faster resume of old chats); 0 keeps none."""

    keys: dict[str, str] = field(default_factory=dict)
    """Remapped keys: binding id (see the help screen) to key(s), e.g. {"edit_last": "ctrl+u"}."""
    prompt_lookup: bool = True
    """Guess tokens copied from the prompt and check several per step (same answers, faster
    summaries and rewrites); used only while it pays on this machine."""

    rolling_memory: bool = False
    """When a chat outgrows the context, summarise the turns it drops into a short note the
    model keeps reading (a pause at each drop, about every third of the context)."""


class SettingsError(StartupError):
    """The settings file can be neither used nor moved aside; one line naming it."""


SAMPLING_KEYS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Settings) if f.name in SAMPLING_LIMITS
)
"""The settings that are sampling parameters: their limits are the engine's (SAMPLING_LIMITS)."""


def sampling_params(settings: Settings) -> SamplingParams:
    """The engine's sampling parameters for these settings."""
    return SamplingParams(**{key: getattr(settings, key) for key in SAMPLING_KEYS})


class SettingError(ValueError):
    """A settings value that cannot be used; names the key, the value and what is allowed."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        super().__init__(f"{key!r} = {value!r} is not valid: expected {expected}")
        self.key = key
        self.value = value
        self.expected = expected


# --- validators: each returns the normalised value or raises ValueError(<what is expected>) ---

Validator = Callable[[Any], Any]


def _is_number(value: Any) -> bool:
    # bool is an int subclass; `true` for a temperature is a mistake, not 1.0.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(low: float, high: float, *, low_open: bool = False) -> Validator:
    left = "(" if low_open else "["
    expected = f"a number in {left}{low}, {high}]"

    def check(value: Any) -> float:
        if not _is_number(value) or value > high or value < low or (low_open and value == low):
            raise ValueError(expected)
        return float(value)

    return check


def _integer(low: int, high: int) -> Validator:
    expected = f"a whole number from {low} to {high}"

    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON writers sometimes emit 8192.0
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(expected)
        return value

    return check


def _optional(inner: Validator, expected: str) -> Validator:
    def check(value: Any) -> Any:
        if value is None:
            return None
        try:
            return inner(value)
        except ValueError:
            raise ValueError(expected) from None

    return check


def _choice(options: tuple[Any, ...]) -> Validator:
    expected = "one of " + ", ".join(json.dumps(o) for o in options)

    def check(value: Any) -> Any:
        if isinstance(value, bool) or value not in options:
            raise ValueError(expected)
        return value

    return check


def _text(*, allow_empty: bool) -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise ValueError("text" if allow_empty else "non-empty text")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _folder_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("a list of folder paths")
    return list(value)


def _model_dirs(value: Any) -> dict[str, str]:
    expected = f"an object mapping quant levels ({', '.join(QUANT_LEVELS)}) to directory paths"
    if not isinstance(value, dict):
        raise ValueError(expected)
    for quant, directory in value.items():
        if quant not in QUANT_LEVELS or not isinstance(directory, str) or not directory.strip():
            raise ValueError(expected)
    return dict(value)


def _key_map(value: Any) -> dict[str, str]:
    expected = 'an object mapping binding ids to keys, e.g. {"edit_last": "ctrl+u"}'
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in value.items()
    ):
        raise ValueError(expected)
    return dict(value)


_VALIDATORS: dict[str, Validator] = {
    "quant": _choice(QUANT_LEVELS),
    "model_dir": _model_dirs,
    **{key: SAMPLING_LIMITS[key].check for key in SAMPLING_KEYS},
    "max_tokens": _integer(1, 131_072),
    "system_prompt": _text(allow_empty=True),
    # Llama 3.2 is trained for 128K positions; below 512 a chat cannot hold a system prompt.
    "context_limit": _integer(512, 131_072),
    "kv_bits": _optional(_choice((8,)), "empty (null) for full precision, or 8"),
    "theme": _text(allow_empty=False),
    "tools": _boolean,
    "allowed_folders": _folder_list,
    "offline": _boolean,
    "cache_budget_gb": _number(0.0, 100_000.0),
    "keys": _key_map,
    "prompt_lookup": _boolean,
    "rolling_memory": _boolean,
}
assert set(_VALIDATORS) == {f.name for f in dataclasses.fields(Settings)}, "one validator per field"


def validate_setting(key: str, value: Any) -> Any:
    """Check one setting (e.g. from the settings screen); returns the normalised value.

    Raises ``SettingError`` naming the key, the value and what is allowed, or ``KeyError`` for a
    key that is not a setting.
    """
    validator = _VALIDATORS[key]
    try:
        return validator(value)
    except ValueError as exc:
        raise SettingError(key, value, str(exc)) from None


def settings_from_dict(
    data: dict[str, Any], source: str = "settings"
) -> tuple[Settings, list[str]]:
    """Build Settings from a decoded mapping; bad or unknown keys become warnings, not errors."""
    defaults = Settings()
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in data.items():
        if key not in _VALIDATORS:
            warnings.append(f"{source}: unknown setting {key!r} ignored")
            continue
        try:
            values[key] = validate_setting(key, value)
        except SettingError as exc:
            default = getattr(defaults, key)
            warnings.append(f"{source}: {exc}; using the default {json.dumps(default)}")
    return dataclasses.replace(defaults, **values), warnings


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """Plain JSON-ready dict in field order."""
    return dataclasses.asdict(settings)


def load_settings(path: Path) -> tuple[Settings, list[str]]:
    """Read the settings file; returns the settings and warnings to show the user.

    A missing file gives the defaults silently. A file that is not a JSON object is moved aside to
    ``<name>.corrupt-<timestamp>`` (so the user can recover it) and the defaults are used; if it
    cannot be moved (a read-only folder), SettingsError says so. A leading UTF-8 byte order mark
    (Windows editors write one) is allowed.
    """
    try:
        raw = read_bytes(path, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return Settings(), []
    except RefusedFileError as exc:  # a named pipe, a device, a folder, far too large
        return Settings(), [
            f"Could not read {path} ({exc.strerror}); using default settings. "
            "Saving a setting replaces it with a settings file."
        ]
    except OSError as exc:
        return Settings(), [
            f"Could not read {path} ({exc.strerror}); using default settings. "
            "Check the file's permissions."
        ]
    try:
        data = parse_json(raw)  # nesting too deep for the parser is a ValueError too
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object at the top, found {type(data).__name__}")
    except ValueError as exc:
        try:
            moved_to = move_aside(path)
        except OSError as move_error:
            raise SettingsError(
                f"{path} is not a valid settings file ({_first_line(exc)}) and could not be "
                f"moved aside ({move_error.strerror or move_error}); fix or delete it."
            ) from exc
        return Settings(), [
            f"{path} is not a valid settings file ({exc}); moved it to {moved_to} "
            "and started from default settings."
        ]
    return settings_from_dict(data, source=path.name)


def save_settings(settings: Settings, path: Path) -> None:
    """Write the settings atomically (temp file + fsync + rename): a crash keeps the old file."""
    text = json.dumps(settings_to_dict(settings), indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
