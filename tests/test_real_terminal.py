"""What a person gets in a real terminal: bursts, pastes, keys while loading, fast Tab, resize.

Each test starts the real ``llama-chat --demo`` on a pseudo-terminal (tests/terminal.py) and
types as a terminal delivers keys: a whole burst in one write. The Pilot tests beside these
(test_tui_input.py) prove the same behaviour inside the app; only these prove it through a
terminal, where keys are not handed over one at a time.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.terminal import Terminal, prepare_home

WORDS = (
    "please draft a short friendly note to Sam about the budget sheet and the meeting on "
    "Thursday at ten with notes, figures, questions; thanks again (really) for 42 items!"
).split()


@pytest.fixture
def terminal(tmp_path: Path, demo_checkpoint: Path):
    """Start the app on a pty; ``demo_checkpoint`` is the run's shared one (tests/conftest.py),
    copied into each home, so no test builds the demo again."""
    started: list[Terminal] = []

    def start(
        *args: str,
        size: tuple[int, int] = (80, 24),
        hooks: tuple[str, ...] = (),
        **settings: object,
    ) -> Terminal:
        home = prepare_home(
            tmp_path / f"home{len(started)}",
            demo_checkpoint,
            **{"max_tokens": 3, "temperature": 0.0, **settings},
        )
        term = Terminal(home, "--demo", *args, size=size, hooks=hooks)
        started.append(term)
        return term

    yield start
    for term in started:
        term.kill()


def burst_text(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while len(" ".join(words)) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:length].strip()


def test_bursts_of_text_and_enter_send_exactly_the_text(terminal) -> None:
    term = terminal()
    term.wait_until_ready()
    rng = random.Random(7)
    sent = [burst_text(rng, n) for n in (20, 75, 140, 300, 33)]
    for number, text in enumerate(sent, start=1):
        term.send(text, "enter")  # the text and its Enter in one write
        term.wait_for_answers(number)
    assert term.user_messages() == sent
    assert term.quit() == 0


def test_a_paste_with_newlines_goes_in_whole(terminal) -> None:
    term = terminal()
    term.wait_until_ready()
    term.paste("Summarise this:\nfirst line\nsecond line")
    term.send("enter")
    term.wait_for_answers(1)
    # Without bracketed paste, the terminal sends each newline as Enter (a carriage return).
    term.send("One\rtwo\rthree", "enter")
    term.wait_for(lambda: len(term.user_messages()) == 2, "the unbracketed paste saved")
    assert term.user_messages() == [
        "Summarise this:\nfirst line\nsecond line",
        "One\ntwo\nthree",
    ]


def test_a_paste_without_bracketed_paste_goes_in_whole_when_the_input_thread_lags(
    terminal,
) -> None:
    # On a loaded machine the terminal's input thread can lose the CPU halfway through posting
    # one read's keys: the app then reached the first Enter with nothing behind it yet, and
    # sent "One" alone.
    term = terminal(hooks=("slow_input",))
    term.wait_until_ready()
    term.send("One\rtwo\rthree", "enter")
    term.wait_for(lambda: term.user_messages(), "the paste saved")
    term.pump(0.5)
    assert term.user_messages() == ["One\ntwo\nthree"]


def test_a_message_sent_while_the_model_loads_goes_out_when_it_is_ready(terminal) -> None:
    term = terminal(hooks=("hold_load",))  # the model loads once the test lets it
    term.wait_for_text("loading", timeout=60)
    term.send("Typed before the model was ready", "enter")
    term.wait_for_text("waits for the model")  # held, visibly, not refused
    term.pump(0.5)
    assert term.user_messages() == []
    term.release_load()
    term.wait_until_ready()
    term.wait_for(lambda: term.user_messages(), "the held message saved")
    assert term.user_messages() == ["Typed before the model was ready"]


def test_esc_takes_back_a_message_waiting_for_the_model(terminal) -> None:
    term = terminal(hooks=("hold_load",))  # the model loads once the test lets it
    term.wait_for_text("loading", timeout=60)
    term.send("Not this one", "enter")
    term.wait_for_text("waits for the model")
    term.send("escape")
    term.wait_for(lambda: "waits for the model" not in term.text, "the wait to end")
    term.release_load()
    term.wait_until_ready()
    term.pump(1.0)
    assert term.user_messages() == []
    assert "Not this one" in term.text  # back in the box, to edit or send


def test_fast_tabs_put_each_value_in_its_own_settings_field(terminal) -> None:
    term = terminal(size=(120, 40))
    term.wait_until_ready()
    term.send("ctrl+s")
    term.wait_for_text("Settings")
    # Precision (focused) → model folder → temperature → top-p → top-k, typed in one burst.
    term.send("tab", "tab", "0.3", "tab", "0.8", "tab", "7", "ctrl+s")
    term.wait_for(lambda: term.settings().get("top_k") == 7, "the settings saved")
    saved = term.settings()
    assert (saved["temperature"], saved["top_p"], saved["top_k"]) == (0.3, 0.8, 7)


def test_resized_to_80x24_everything_still_shows(terminal) -> None:
    term = terminal(size=(120, 40))
    term.wait_until_ready()
    term.resize(80, 24)
    term.wait_for(
        lambda: "DEMO" in term.text.splitlines()[-2] and "Quit" in term.text.splitlines()[-1],
        "the status bar and the footer at 80×24",
    )
    lines = term.text.splitlines()
    assert len(lines) == 24 and max(len(line) for line in lines) <= 80
    assert "Message Llama" in term.text  # the message box
    term.send("Still typing whole", "enter")
    term.wait_for(lambda: term.user_messages() == ["Still typing whole"], "the message saved")
