"""The prompt library: named instructions applied to a text (the input, or the last answer).

Built-in presets cover what people do most with a local model — summarise, shorten, rewrite,
fix, translate, reply. Users add their own, or override a built-in by giving it the same name; their
presets live in presets.json beside settings.json and are written atomically. A template holds
``{text}`` (the text to work on) and may hold ``{arg}`` (e.g. the language for ``translate``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llama_chat.paths import atomic_write_text, move_aside
from mlx_model import SAMPLING_LIMITS
from mlx_model.files import MiB, parse_json, read_bytes

MAX_PRESETS_BYTES = 1 * MiB  # hundreds of presets fit in a few KiB

_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


class PresetError(ValueError):
    """A preset that cannot be used or saved; the message names the preset and what is wrong."""


@dataclass(frozen=True)
class Preset:
    name: str
    """A short lowercase word, typed after "/" in the chat box or given to --preset."""
    description: str
    template: str
    """The message sent: ``{text}`` is replaced by the text, ``{arg}`` by what follows the name."""
    system_prompt: str | None = None
    """Used instead of the chat's system prompt when set (one-shot use)."""
    temperature: float | None = None
    builtin: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise PresetError(
                f"preset name {self.name!r}: use 1-32 lowercase letters, digits or '-', "
                "starting with a letter"
            )
        if "{text}" not in self.template:
            raise PresetError(f"preset {self.name!r}: the template must contain {{text}}")
        if self.temperature is not None:
            try:
                SAMPLING_LIMITS["temperature"].check(self.temperature)
            except ValueError as exc:
                raise PresetError(f"preset {self.name!r}: temperature must be {exc}") from None

    @property
    def needs_arg(self) -> bool:
        return "{arg}" in self.template

    def apply(self, text: str, arg: str = "") -> str:
        """The message to send for ``text``; raises PresetError when a needed ``arg`` is missing."""
        if not text.strip():
            raise PresetError(f"/{self.name} needs some text to work on")
        if self.needs_arg and not arg.strip():
            raise PresetError(f"/{self.name} needs a word after it, e.g. /{self.name} French")
        # One pass, so a {text} inside the argument (or an {arg} inside the text) stays literal.
        values = {"text": text.strip(), "arg": arg.strip()}
        return re.sub(r"\{(text|arg)\}", lambda m: values[m.group(1)], self.template)


def _builtin(name: str, description: str, template: str, temperature: float | None = None):
    return Preset(name, description, template, temperature=temperature, builtin=True)


BUILTIN_PRESETS: tuple[Preset, ...] = (
    _builtin(
        "summarise",
        "Summarise the text",
        "Summarise the following text in a few sentences, keeping names, numbers and "
        "conclusions.\n\n{text}",
    ),
    _builtin(
        "shorten",
        "Make it shorter, same meaning",
        "Rewrite the following text to about half its length without losing its meaning. "
        "Reply with the rewritten text only.\n\n{text}",
    ),
    _builtin(
        "expand",
        "Make it longer and fuller",
        "Expand the following text with more detail and explanation, keeping its tone. Reply "
        "with the expanded text only.\n\n{text}",
    ),
    _builtin(
        "formal",
        "Make it formal",
        "Rewrite the following text in a formal, professional tone. Reply with the rewritten "
        "text only.\n\n{text}",
    ),
    _builtin(
        "friendly",
        "Make it friendly",
        "Rewrite the following text in a warm, friendly tone. Reply with the rewritten text "
        "only.\n\n{text}",
    ),
    _builtin(
        "fix",
        "Fix spelling and grammar",
        "Correct the spelling, grammar and punctuation of the following text. Change nothing "
        "else. Reply with the corrected text only.\n\n{text}",
        temperature=0.0,
    ),
    _builtin(
        "bullets",
        "Turn it into bullet points",
        "Rewrite the following text as a short list of bullet points.\n\n{text}",
    ),
    _builtin(
        "translate",
        "Translate to… (e.g. /translate French)",
        "Translate the following text into {arg}. Reply with the translation only.\n\n{text}",
        temperature=0.0,
    ),
    _builtin(
        "reply",
        "Draft a reply to this email",
        "Draft a polite, concise reply to the following email. Reply with the email text "
        "only.\n\n{text}",
    ),
)


class PresetLibrary:
    """The built-in presets plus the user's own, saved in one JSON file."""

    def __init__(self, path: Path, user: list[Preset], warnings: list[str]) -> None:
        self.path = path
        self._user = user
        self.warnings = warnings
        """Problems found while reading the file (a bad entry is skipped, the rest kept)."""

    @classmethod
    def load(cls, path: Path) -> PresetLibrary:
        """Read ``path``; a missing file is no user presets, an unreadable one is moved aside."""
        try:
            raw = read_bytes(path, MAX_PRESETS_BYTES)  # a regular file only: never a pipe
        except FileNotFoundError:
            return cls(path, [], [])
        except OSError as exc:
            return cls(path, [], [f"{path}: cannot be read ({exc.strerror}); no user presets"])
        try:
            data = parse_json(raw)
            if not isinstance(data, list):
                raise ValueError("expected a list of presets")
        except ValueError as exc:
            moved = move_aside(path)
            return cls(path, [], [f"{path} is not valid ({exc}); it was moved to {moved}"])
        user: list[Preset] = []
        warnings: list[str] = []
        for index, entry in enumerate(data):
            try:
                user.append(_from_json(entry))
            except PresetError as exc:
                warnings.append(f"{path}: entry {index + 1} skipped: {exc}")
        return cls(path, _unique(user), warnings)

    def all(self) -> list[Preset]:
        """Every preset, by name; a user preset replaces a built-in one of the same name."""
        mine = {p.name: p for p in self._user}
        builtins = [mine.pop(p.name, p) for p in BUILTIN_PRESETS]
        return builtins + sorted(mine.values(), key=lambda p: p.name)

    def get(self, name: str) -> Preset:
        for preset in self.all():
            if preset.name == name:
                return preset
        known = ", ".join(p.name for p in self.all())
        raise PresetError(f"there is no preset {name!r}; the presets are: {known}")

    def user_presets(self) -> list[Preset]:
        return list(self._user)

    def save(self, preset: Preset) -> None:
        """Add or replace a user preset (a built-in's name overrides that built-in)."""
        user = [p for p in self._user if p.name != preset.name]
        user.append(Preset(**{**asdict(preset), "builtin": False}))
        self._write(user)

    def delete(self, name: str) -> None:
        """Delete a user preset (a built-in that it overrode comes back)."""
        user = [p for p in self._user if p.name != name]
        if len(user) == len(self._user):
            raise PresetError(f"there is no preset of yours called {name!r}")
        self._write(user)

    def _write(self, user: list[Preset]) -> None:
        entries = [{k: v for k, v in asdict(p).items() if k != "builtin"} for p in user]
        atomic_write_text(self.path, json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
        self._user = user


def split_invocation(text: str) -> tuple[str, str]:
    """``"/translate French"`` → ``("translate", "French")``; the leading slash is optional.

    The name ends at the first space or line break; the rest keeps its own line breaks.
    """
    name, rest = [*text.strip().removeprefix("/").split(maxsplit=1), "", ""][:2]
    return name, rest.strip()


def prepare_invocation(library: PresetLibrary, typed: str, last_answer: str) -> tuple[Preset, str]:
    """What the chat box's ``/name [arg] [text]`` sends: (the preset, the applied template).

    The text is what follows the name (after the argument, for a preset that takes one), else
    ``last_answer``. Raises PresetError naming what is missing or unknown.
    """
    name, rest = split_invocation(typed)
    preset = library.get(name)
    arg = ""
    if preset.needs_arg:
        arg, rest = split_invocation(rest)
    if not rest and not last_answer:
        raise PresetError(
            f"/{preset.name} works on text: type it after /{preset.name}, or use it after an answer"
        )
    return preset, preset.apply(rest or last_answer, arg)


def _from_json(entry: Any) -> Preset:
    if not isinstance(entry, dict):
        raise PresetError("expected an object with name, description and template")
    fields = {"name", "description", "template", "system_prompt", "temperature"}
    unknown = set(entry) - fields
    if unknown:
        raise PresetError(f"unknown keys {', '.join(sorted(unknown))}")
    values = {key: entry.get(key) for key in fields}
    for key in ("name", "template"):
        if not isinstance(values[key], str):
            raise PresetError(f"{key!r} must be text")
    for key in ("description", "system_prompt"):
        if values[key] is not None and not isinstance(values[key], str):
            raise PresetError(f"{key!r} must be text")
    values["description"] = values["description"] or values["name"]
    return Preset(**values)


def _unique(presets: list[Preset]) -> list[Preset]:
    by_name: dict[str, Preset] = {}
    for preset in presets:
        by_name[preset.name] = preset  # the later entry wins, as a later edit would
    return list(by_name.values())
