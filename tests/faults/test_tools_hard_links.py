"""Faults: the file tool read a hard link out of the allowed folder (``ln /etc/shadow
allowed/h``): a hard link is no symbolic link, and its other name may lie anywhere. A regular
file with more than one link is now refused; a file the person attaches may still have several."""

from __future__ import annotations

import os

import pytest

from llama_chat.documents import load_document
from llama_chat.tools import ToolError
from llama_chat.tools.files import read_text_file


@pytest.fixture
def linked_out(tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("the password is swordfish")
    os.link(outside / "secret.txt", allowed / "h.txt")
    return allowed


def test_a_hard_link_out_of_the_allowed_folder_is_refused(linked_out):
    with pytest.raises(ToolError, match="2 hard links") as info:
        read_text_file("h.txt", [linked_out])
    assert "swordfish" not in str(info.value) and "\n" not in str(info.value)


def test_a_file_with_one_link_is_still_read(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert read_text_file("notes.txt", [tmp_path])["content"] == "hello"


def test_a_document_the_person_chose_may_have_hard_links(linked_out):
    assert load_document(linked_out / "h.txt").text == "the password is swordfish"
