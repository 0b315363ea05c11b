"""Documents in the chat: attaching a file (the picker, a pasted path, a message too long to
send), the summary's progress in the chat, and the palette's summaries.

The chat screen holds one ``DocumentFlow`` and hands it the keys and engine events it is for.
"""

from __future__ import annotations

from pathlib import Path

from llama_chat.documents import DocumentError, load_document, pasted_path
from llama_chat.events import DocumentAdded, DocumentProgress, Job
from llama_chat.store.documents import StoredDocument
from llama_chat.tui.screens.attach import AttachScreen, InstructionDialog
from llama_chat.tui.screens.chat_turns import ChatPart, can_start, require_session, start_turn
from llama_chat.tui.screens.dialogs import ConfirmDialog
from llama_chat.tui.widgets.document_block import DocumentBlock, SummaryProgressBlock

DOCUMENT_JOBS = frozenset({Job.ATTACH, Job.SUMMARIZE_CHAT, Job.RESUMMARIZE})
PASTED_NAME = "pasted text"


class DocumentFlow(ChatPart):
    """The chat screen's documents: what it attaches, and how a summary shows while written."""

    def pick_file(self) -> None:
        if can_start(self.screen):
            self.screen.app.push_screen(AttachScreen(), self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is not None:
            self.attach_path(path)

    def attach_path(self, path: Path) -> bool:
        """Attach the file at ``path``, or say in one line why it cannot be; True: started."""
        try:
            document = load_document(path)
        except DocumentError as exc:
            self.screen.notify(str(exc), severity="error", timeout=10)
            return False
        return self.attach_text(document.name, document.text, document.size_bytes)

    def attach_text(self, name: str, text: str, size_bytes: int) -> bool:
        if not can_start(self.screen):
            return False
        self.status.set_activity(f"attaching {name}…")
        self.state.controller.attach_document(name, text, size_bytes)
        return True

    # -- offers: a pasted path, a message too long to send -----------------------------------------

    def offer_pasted(self, pasted: str) -> None:
        path = pasted_path(pasted)
        if path is None:
            return

        def answered(attach: bool | None) -> None:
            # Attached, the path leaves the box; declined or refused, it stays as pasted.
            if attach and self.attach_path(path):
                self.prompt.set_text(self.prompt.text.replace(pasted, "", 1).strip())

        question = f"Attach the file {path.name}, or keep its path as text in the message?"
        offer = ConfirmDialog(question, "Attach", cancel_label="Keep as text", offer=True)
        self.screen.app.push_screen(offer, answered)

    def offer_long_message(self, text: str) -> None:
        def answered(attach: bool | None) -> None:
            if attach and self.attach_text(PASTED_NAME, text, len(text.encode("utf-8"))):
                self.prompt.clear()

        question = "Your message is too long for the context — attach it as a document?"
        self.screen.app.push_screen(ConfirmDialog(question, "Attach"), answered)

    # -- the palette's summaries -------------------------------------------------------------------

    def summarise_chat(self) -> None:
        if can_start(self.screen) and require_session(self.screen):
            start_turn(self.screen)
            self.state.controller.summarize_chat()

    def resummarise_document(self) -> None:
        if not (can_start(self.screen) and require_session(self.screen)):
            return
        state = self.state
        selected = self.messages.selected
        if isinstance(selected, DocumentBlock):  # the one under the cursor, else the last one
            document = selected.document
        else:
            documents = state.controller.queries.documents(state.session_id)
            if not documents:
                self.screen.notify("This chat has no document to summarise.", severity="warning")
                return
            document = documents[-1]

        def answered(instruction: str | None) -> None:
            if instruction is not None and can_start(self.screen):
                start_turn(self.screen)
                state.controller.resummarize_document(instruction, document.id)

        self.screen.app.push_screen(InstructionDialog(document.name), answered)

    # -- engine events -----------------------------------------------------------------------------

    async def show(self, event: DocumentProgress | DocumentAdded) -> None:
        if isinstance(event, DocumentAdded):
            await self._added(event.document)
            return
        blocks = self.messages.query_children(SummaryProgressBlock)
        if blocks:
            block = blocks.first()
        else:
            block = SummaryProgressBlock(event.name)
            await self.messages.mount(block)
            self.messages.follow()
        block.show(event)

    async def _added(self, document: StoredDocument) -> None:
        await self._remove_progress()
        await self.messages.mount(DocumentBlock(document))
        self.messages.follow()
        if document.session_id != self.state.session_id:  # the chat's first message: now saved
            await self.sidebar.reload(document.session_id)  # the app keeps the new id after

    async def job_finished(self, job: Job) -> None:
        if job not in DOCUMENT_JOBS:
            return
        await self._remove_progress()
        if job == Job.ATTACH:  # an answer job's end is the chat screen's
            self.status.set_activity("")

    async def _remove_progress(self) -> None:
        await self.messages.query_children(SummaryProgressBlock).remove()
