"""The chat screen's part for documents: attaching a file (the picker, a pasted path, a message
too long to send), the summary's progress in the chat, and the palette's summaries."""

from __future__ import annotations

from pathlib import Path

from textual import events, on

from llama_chat.documents import DocumentError, load_document, pasted_path
from llama_chat.events import Job
from llama_chat.tui.bridge import Core
from llama_chat.tui.screens.attach import AttachScreen, InstructionDialog
from llama_chat.tui.screens.chat_base import ChatScreenBase
from llama_chat.tui.screens.dialogs import ConfirmDialog
from llama_chat.tui.widgets.document_block import DocumentBlock, SummaryProgressBlock

DOCUMENT_JOBS = frozenset({Job.ATTACH, Job.SUMMARIZE_CHAT, Job.RESUMMARIZE})
PASTED_NAME = "pasted text"


class DocumentHandlers(ChatScreenBase):
    def action_attach_file(self) -> None:
        if self.can_start():
            self.app.push_screen(AttachScreen(), self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is not None:
            self.attach_path(path)

    def attach_path(self, path: Path) -> bool:
        """Attach the file at ``path``, or say in one line why it cannot be; True: started."""
        try:
            document = load_document(path)
        except DocumentError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return False
        return self.attach_text(document.name, document.text, document.size_bytes)

    def attach_text(self, name: str, text: str, size_bytes: int) -> bool:
        if not self.can_start():
            return False
        self.status.set_activity(f"attaching {name}…")
        self.state.controller.attach_document(name, text, size_bytes)
        return True

    # -- offers: a pasted path, a message too long to send -----------------------------------------

    @on(events.Paste)
    def _pasted(self, event: events.Paste) -> None:
        path = pasted_path(event.text)
        if path is None:
            return
        pasted = event.text

        def answered(attach: bool | None) -> None:
            # Attached, the path leaves the box; declined or refused, it stays as pasted.
            if attach and self.attach_path(path):
                self.prompt.set_text(self.prompt.text.replace(pasted, "", 1).strip())

        question = f"Attach the file {path.name}, or keep its path as text in the message?"
        offer = ConfirmDialog(question, "Attach", cancel_label="Keep as text", offer=True)
        self.app.push_screen(offer, answered)

    @on(Core.MessageRefused)
    def _offer_document(self, message: Core.MessageRefused) -> None:
        text = message.event.text

        def answered(attach: bool | None) -> None:
            if attach and self.attach_text(PASTED_NAME, text, len(text.encode("utf-8"))):
                self.prompt.clear()

        question = "Your message is too long for the context — attach it as a document?"
        self.app.push_screen(ConfirmDialog(question, "Attach"), answered)

    # -- the palette's summaries -------------------------------------------------------------------

    def action_summarise_chat(self) -> None:
        if self.can_start() and self.require_session():
            self.start_turn()
            self.state.controller.summarize_chat()

    def action_resummarise_document(self) -> None:
        if not (self.can_start() and self.require_session()):
            return
        selected = self.messages.selected
        if isinstance(selected, DocumentBlock):  # the one under the cursor, else the last one
            document = selected.document
        else:
            documents = self.state.controller.sessions.documents(self.state.session_id)
            if not documents:
                self.notify("This chat has no document to summarise.", severity="warning")
                return
            document = documents[-1]

        def answered(instruction: str | None) -> None:
            if instruction is not None and self.can_start():
                self.start_turn()
                self.state.controller.resummarize_document(instruction, document.id)

        self.app.push_screen(InstructionDialog(document.name), answered)

    # -- engine events -----------------------------------------------------------------------------

    @on(Core.DocumentProgress)
    async def _document_progress(self, message: Core.DocumentProgress) -> None:
        blocks = self.messages.query_children(SummaryProgressBlock)
        if blocks:
            block = blocks.first()
        else:
            block = SummaryProgressBlock(message.event.name)
            await self.messages.add(block)
            self.messages.follow()
        block.show(message.event)

    @on(Core.DocumentAdded)
    async def _document_added(self, message: Core.DocumentAdded) -> None:
        document = message.event.document
        await self._remove_progress()
        await self.messages.add(DocumentBlock(document))
        self.messages.follow()
        if document.session_id != self.state.session_id:  # the chat's first message: now saved
            await self.sidebar.reload(document.session_id)  # the app keeps the new id after

    @on(Core.SummaryDone)
    def _summary_done(self, message: Core.SummaryDone) -> None:
        self.notify(f"Summary of {message.event.what} written.", timeout=5)

    @on(Core.JobFinished)
    async def _document_job_finished(self, message: Core.JobFinished) -> None:
        if message.event.job not in DOCUMENT_JOBS:
            return
        await self._remove_progress()
        if message.event.job == Job.ATTACH:  # an answer job's end is the chat screen's
            self.status.set_activity("")

    async def _remove_progress(self) -> None:
        await self.messages.query_children(SummaryProgressBlock).remove()
