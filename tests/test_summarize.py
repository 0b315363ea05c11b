"""Map-reduce summaries: chunks that really fit, cut at the largest boundary, progress shown."""

from __future__ import annotations

import pytest

import mlx_model
from llama_chat.chat.conversation import GenerationSettings
from llama_chat.chat.summarize import count_tokens, split_for_context, summarize
from llama_chat.events import SummaryProgress, TextDelta, TurnFinished


@pytest.fixture(scope="module")
def tokenizer(tokenizer_model_path):
    return mlx_model.Tokenizer.from_tiktoken_file(tokenizer_model_path)


def test_chunks_fit_the_budget_and_keep_every_paragraph(tokenizer):
    paragraphs = [
        f"Paragraph {i}: " + "the quick brown fox jumps. " * (i % 7 + 1) for i in range(40)
    ]
    text = "\n\n".join(paragraphs)
    chunks = split_for_context(tokenizer, text, budget=120)
    assert len(chunks) > 1
    assert all(count_tokens(tokenizer, c) <= 120 for c in chunks)
    # Cut on paragraph boundaries: rejoining gives the paragraphs back, in order.
    assert "\n\n".join(chunks).split("\n\n") == [p.strip() for p in paragraphs]


def test_an_oversized_paragraph_is_cut_at_sentences_then_tokens(tokenizer):
    sentence_text = " ".join(f"Sentence {i} is here." for i in range(200))
    chunks = split_for_context(tokenizer, sentence_text, budget=50)
    assert all(count_tokens(tokenizer, c) <= 50 for c in chunks)
    assert all(c.rstrip().endswith(".") for c in chunks)
    no_boundaries = "x" * 5000
    pieces = split_for_context(tokenizer, no_boundaries, budget=64)
    assert all(count_tokens(tokenizer, p) <= 64 for p in pieces)
    assert "".join(pieces).replace("\n\n", "") == no_boundaries


def test_long_document_is_mapped_then_reduced_with_progress(tiny_4bit):
    model, tok = mlx_model.load(tiny_4bit)
    document = "\n\n".join(f"Section {i}. " + "Details about the project. " * 25 for i in range(10))
    settings = GenerationSettings(mlx_model.SamplingParams(), max_tokens=12, context_limit=400)
    events = []
    finished = summarize(model, tok, document, settings=settings, emit=events.append)
    maps = [e for e in events if isinstance(e, SummaryProgress) and e.stage == "map"]
    assert maps[-1].done == maps[-1].total > 1
    assert any(isinstance(e, SummaryProgress) and e.stage == "reduce" for e in events)
    # Only the final answer streams as text and ends the turn.
    assert [e for e in events if isinstance(e, TurnFinished)] == [finished]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == finished.text


def test_short_document_is_answered_in_one_pass(tiny_4bit):
    model, tok = mlx_model.load(tiny_4bit)
    events = []
    summarize(
        model, tok, "A short note.", settings=GenerationSettings(max_tokens=8), emit=events.append
    )
    assert not any(isinstance(e, SummaryProgress) for e in events)
