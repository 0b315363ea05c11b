"""A document in the chat: one compact block (name, size, tokens) that opens to show the text;
and the block that shows a long document being summarised."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Collapsible, Label, ProgressBar, Static

from llama_chat.events import DocumentProgress
from llama_chat.store.documents import StoredDocument
from llama_chat.tui.plain import plain


def document_title(document: StoredDocument) -> str:
    """One line: what the document is and how the model read it."""
    read = "summarised" if document.summary is not None else "read whole"
    return (
        f"{document.name} · {format_size(document.size_bytes)} · "
        f"{document.tokens:,} tokens · {read}"
    )


def format_size(size_bytes: int) -> str:
    if size_bytes < 1000:
        return f"{size_bytes} B"
    if size_bytes < 1_000_000:
        return f"{size_bytes / 1000:.1f} kB"
    return f"{size_bytes / 1_000_000:.1f} MB"


class DocumentBlock(Collapsible):
    """Collapsed: one line. Enter or a click on it shows the text, in a box that scrolls."""

    DEFAULT_CSS = """
    DocumentBlock { margin: 0 1 1 1; border: round $secondary; padding: 0; }
    DocumentBlock > Contents { padding: 0 0 0 1; }
    DocumentBlock .document-text { height: auto; max-height: 12; }
    DocumentBlock .document-summary { color: $text-muted; margin-bottom: 1; }
    """

    def __init__(self, document: StoredDocument) -> None:
        self.document = document
        self.message_id = document.message_id
        parts = []
        if document.summary is not None:
            summary = f"The model read this summary instead:\n{document.summary}"
            parts.append(Static(Text(summary), classes="document-summary"))
        parts.append(
            VerticalScroll(Static(Text(document.text)), classes="document-text", can_focus=True)
        )
        super().__init__(*parts, title=plain(document_title(document)), collapsed=True)
        self.add_class("message", "document")


class SummaryProgressBlock(Vertical):
    """A long text being summarised: a bar over its parts, the rate, and how to cancel."""

    DEFAULT_CSS = """
    SummaryProgressBlock { height: auto; margin: 0 1 1 1; border: round $warning; }
    SummaryProgressBlock ProgressBar { width: 1fr; }
    """

    def __init__(self, name: str) -> None:
        super().__init__(id="summary-progress")
        self.border_title = plain(f"Summarising {name}")
        self._bar = ProgressBar(total=None, show_eta=False)
        self._line = Label("reading…  Esc cancels")

    def compose(self) -> ComposeResult:
        yield self._bar
        yield self._line

    def show(self, event: DocumentProgress) -> None:
        if event.stage == "map" and event.tokens_total and event.tokens_read < event.tokens_total:
            # Reading the parts comes first, and takes most of the time: show it by the token.
            self._bar.update(total=event.tokens_total, progress=event.tokens_read)
            left = f" · {_duration(event.seconds_left)} left" if event.seconds_left else ""
            what = (
                f"reading {event.tokens_read:,}/{event.tokens_total:,} tokens{left} · "
                f"{event.done} of {event.total} parts done"
            )
        elif event.stage == "map":
            self._bar.update(total=event.total, progress=event.done)
            what = f"part {event.done} of {event.total} summarised"
        else:
            self._bar.update(total=None)
            what = "writing the summary"
        # The first parts are summarised together, in one batch: no rate until it ends.
        rate = f"{event.tokens_per_s:,.0f} tokens/s" if event.tokens_per_s else "starting"
        self._line.update(f"{what} · {rate} · Esc cancels")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
