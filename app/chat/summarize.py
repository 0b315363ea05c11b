"""Summarising a document longer than the context: map-reduce over token-sized chunks.

The document is cut on paragraph boundaries (then lines, sentences, and as a last resort token
windows) into chunks that fit the context with room for the instructions and the answer. Each
chunk is summarised on its own (map), several chunks at once in a batch that advances them all
with one forward pass per step; the summaries are then summarised together (reduce),
recursively while they still do not fit. Only the final answer streams as text; the earlier
stages report progress, one event per part done.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import replace

import mlx_model
from llama_chat.chat.conversation import ContextOverflowError, Conversation, GenerationSettings
from llama_chat.events import Event, SummaryProgress, TurnFinished
from mlx_model import FinishReason
from mlx_model.batch import BatchRow, batch_generate, batch_size_for

MAP_PROMPT = (
    "Here is part {index} of {total} of a longer document.\n\n<document_part>\n{text}\n"
    "</document_part>\n\nSummarise this part in a few sentences, keeping names, numbers and "
    "conclusions."
)
REDUCE_PROMPT = (
    "Here are summaries of consecutive parts of one document.\n\n<summaries>\n{text}\n"
    "</summaries>\n\n{instruction}"
)
DOCUMENT_PROMPT = "<document>\n{text}\n</document>\n\n{instruction}"
PROMPT_MARGIN = 64  # the template's headers, the date line, rounding
MIN_CHUNK_TOKENS = 64
"""Smaller parts than this leave the model too little to summarise (and labels would dominate)."""
MIN_PART_SUMMARY_TOKENS = 16


class SummaryError(ValueError):
    """The document cannot be summarised with these limits; says which limit to change."""


Emit = Callable[[Event], None]


def count_tokens(tokenizer: mlx_model.Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text))


def split_for_context(tokenizer: mlx_model.Tokenizer, text: str, budget: int) -> list[str]:
    """Chunks of ``text``, each at most ``budget`` tokens, cut at the largest boundary that fits."""
    if budget < 16:
        raise SummaryError(f"a chunk budget of {budget} tokens is too small to summarise anything")
    pieces = _pieces(tokenizer, text.strip(), budget, level=0)
    chunks: list[str] = []
    current: list[str] = []
    current_tokens = 0
    for piece, tokens in pieces:
        if current and current_tokens + tokens > budget:
            chunks.append("\n\n".join(current))
            current, current_tokens = [], 0
        current.append(piece)
        current_tokens += tokens + 1  # the joining blank line
    if current:
        chunks.append("\n\n".join(current))
    return chunks


_SEPARATORS = (r"\n\s*\n", r"\n", r"(?<=[.!?。])\s+")


def _pieces(
    tokenizer: mlx_model.Tokenizer, text: str, budget: int, level: int
) -> list[tuple[str, int]]:
    if not text:
        return []
    tokens = count_tokens(tokenizer, text)
    if tokens <= budget:
        return [(text, tokens)]
    if level < len(_SEPARATORS):
        parts = [p.strip() for p in re.split(_SEPARATORS[level], text) if p.strip()]
        if len(parts) > 1:
            out: list[tuple[str, int]] = []
            for part in parts:
                out.extend(_pieces(tokenizer, part, budget, level))
            return out
        return _pieces(tokenizer, text, budget, level + 1)
    ids = tokenizer.encode(text)
    return [
        (tokenizer.decode(ids[i : i + budget]), len(ids[i : i + budget]))
        for i in range(0, len(ids), budget)
    ]


def summarize(
    model: mlx_model.Model,
    tokenizer: mlx_model.Tokenizer,
    document: str,
    *,
    instruction: str = "Write a concise summary of the whole document.",
    system_prompt: str = "",
    settings: GenerationSettings | None = None,
    emit: Emit,
    cancel: threading.Event | None = None,
    date_string: str | None = None,
    batch_size: int | None = None,
) -> TurnFinished:
    """Answer ``instruction`` about ``document``; a document too long for the context is
    summarised part by part (``batch_size`` parts at a time; None: as many as memory allows)."""
    settings = settings or GenerationSettings()
    cancel = cancel or threading.Event()
    cache = model.make_cache()  # shared: every stage starts with the same system prompt

    def conversation(text: str, max_tokens: int | None = None) -> Conversation:
        c = Conversation(
            model,
            tokenizer,
            system_prompt=system_prompt,
            settings=settings if max_tokens is None else replace(settings, max_tokens=max_tokens),
            date_string=date_string,
            cache=cache,
        )
        c.add_user(text)
        return c

    overhead = len(conversation("").encode()) + PROMPT_MARGIN
    budget = settings.context_limit - settings.max_tokens - overhead

    def fits(template: str, text: str) -> bool:
        prompt = template.format(text=text, instruction=instruction, index=1, total=1)
        return count_tokens(tokenizer, prompt) <= budget

    text = document
    if fits(DOCUMENT_PROMPT, text):
        final = DOCUMENT_PROMPT.format(text=text, instruction=instruction)
        return conversation(final).respond(emit, cancel=cancel)

    template_tokens = count_tokens(tokenizer, MAP_PROMPT.format(index=99, total=99, text=""))
    chunk_budget = budget - template_tokens
    if chunk_budget < MIN_CHUNK_TOKENS:
        raise SummaryError(
            f"a context limit of {settings.context_limit} tokens with answers of up to "
            f"{settings.max_tokens} tokens leaves {max(chunk_budget, 0)} tokens for each part of "
            f"the document (at least {MIN_CHUNK_TOKENS} are needed): lower the max tokens or "
            "raise the context limit"
        )
    while True:
        chunks = split_for_context(tokenizer, text, chunk_budget)
        summaries = _map(chunks, conversation, tokenizer, settings, emit, cancel, batch_size)
        if isinstance(summaries, TurnFinished):
            emit(summaries)
            return summaries
        shorter = "\n\n".join(summaries)
        if fits(REDUCE_PROMPT, shorter) or len(chunks) == 1:
            text = shorter
            break
        if count_tokens(tokenizer, shorter) >= count_tokens(tokenizer, text):
            raise SummaryError(
                "the summaries of the parts are no shorter than the parts themselves; raise the "
                "context limit or lower the max tokens"
            )
        text = shorter
    emit(SummaryProgress("reduce", 0, 1))
    return conversation(REDUCE_PROMPT.format(text=text, instruction=instruction)).respond(
        emit, cancel=cancel
    )


def _map(
    chunks: list[str],
    conversation: Callable[[str, int | None], Conversation],
    tokenizer: mlx_model.Tokenizer,
    settings: GenerationSettings,
    emit: Emit,
    cancel: threading.Event,
    batch_size: int | None,
) -> list[str] | TurnFinished:
    """Summarise every chunk, ``batch_size`` at a time (None: as many as memory allows).

    Returns "Part i: ..." lines in order, or the TurnFinished that ended the round early.
    Intermediate summaries are not the answer: no text streams, only progress per part.
    """
    prompts: list[list[int]] = []
    caps: list[int] = []
    for i, chunk in enumerate(chunks, start=1):
        # At most half the part's length, so that every round is shorter than the last.
        cap = min(
            settings.max_tokens, max(MIN_PART_SUMMARY_TOKENS, count_tokens(tokenizer, chunk) // 2)
        )
        c = conversation(MAP_PROMPT.format(index=i, total=len(chunks), text=chunk), cap)
        try:
            fitted = c.fit_prompt(cancel)
        except ContextOverflowError as exc:
            return TurnFinished(FinishReason.ERROR, "", error=str(exc))
        if fitted is None:
            return TurnFinished(FinishReason.CANCELLED, "")
        prompts.append(fitted[0])
        caps.append(cap)
    model = c.model
    if batch_size is None:
        longest = max(len(p) + cap for p, cap in zip(prompts, caps, strict=True))
        batch_size = batch_size_for(model.config, longest)
    done = 0
    emit(SummaryProgress("map", 0, len(chunks)))

    def row_done(_: int, row: BatchRow) -> None:
        nonlocal done
        if row.finish_reason != FinishReason.CANCELLED:
            done += 1
            emit(SummaryProgress("map", done, len(chunks)))

    all_tokens = sum(len(p) for p in prompts)
    read_before = 0  # by the batches before this one

    def prefill_read(read: int, total: int) -> None:
        emit(SummaryProgress("map", done, len(chunks), read_before + read, all_tokens))

    summaries: list[str] = []
    for start in range(0, len(prompts), batch_size):
        rows = batch_generate(
            model,
            prompts[start : start + batch_size],
            stop_ids=tokenizer.eos_token_ids,
            cache=c.cache,  # the stages' shared cache: the system prompt is prefilled once
            sampling=settings.sampling,
            max_tokens=caps[start : start + batch_size],
            cancel=cancel,
            on_row_done=row_done,
            on_prefill=prefill_read,
        )
        read_before += sum(len(p) for p in prompts[start : start + batch_size])
        if any(row.finish_reason == FinishReason.CANCELLED for row in rows):
            return TurnFinished(FinishReason.CANCELLED, "")
        summaries += [
            f"Part {start + n}: {tokenizer.decode(row.tokens).strip()}"
            for n, row in enumerate(rows, start=1)
        ]
    return summaries
