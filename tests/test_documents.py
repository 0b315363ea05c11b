"""Reading a file to attach, telling a pasted path from a message, completing a typed path."""

from __future__ import annotations

import pytest

from llama_chat.documents import DocumentError, load_document, pasted_path
from llama_chat.tui.screens.attach import complete_path


def test_any_utf8_text_is_a_document_and_a_bom_is_dropped(tmp_path):
    path = tmp_path / "données.csv"
    path.write_bytes("\ufeffname;city\nAna;Évora\n".encode())
    document = load_document(path)
    assert (document.name, document.text) == ("données.csv", "name;city\nAna;Évora\n")
    assert document.size_bytes == len(document.text.encode())


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"GIF89a\x00\x01", "binary file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
        (b"caf\xe9 au lait", "not UTF-8 text"),
        (b"  \n\n", "empty"),
        (b"x" * 101, "101 bytes; the limit is 100 bytes"),
    ],
    ids=["nul-bytes", "png", "latin-1", "blank", "too-big"],
)
def test_files_that_cannot_be_attached_are_refused_in_one_line(tmp_path, data, why):
    path = tmp_path / "file.dat"
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=why) as refused:
        load_document(path, max_bytes=100)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("Cannot attach: 'file.dat' ")


def test_a_link_or_a_folder_is_not_attached(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("hello")
    (tmp_path / "link.txt").symlink_to(target)
    with pytest.raises(DocumentError, match="symbolic link"):
        load_document(tmp_path / "link.txt")
    with pytest.raises(DocumentError, match="folder"):
        load_document(tmp_path)


def test_a_pasted_path_is_recognised_however_the_terminal_quoted_it(tmp_path):
    folder = tmp_path / "my docs"
    folder.mkdir()
    path = folder / "plan a.txt"
    path.write_text("x")
    plain = str(path)
    for pasted in (
        plain.replace(" ", "\\ "),  # macOS Terminal's drag and drop
        f"'{plain}'",
        f'"{plain}"  ',
    ):
        assert pasted_path(pasted) == path, pasted
    assert pasted_path(plain) is None  # unquoted spaces: words of a message
    assert pasted_path(str(folder)) is None  # a folder
    assert pasted_path(f"{plain}\nand more") is None
    assert pasted_path("hello") is None and pasted_path("") is None
    assert pasted_path(str(tmp_path / "missing.txt")) is None


def test_tab_completes_as_far_as_the_names_agree(tmp_path):
    (tmp_path / "report-2024.txt").write_text("x")
    (tmp_path / "report-2025.txt").write_text("x")
    (tmp_path / "drafts").mkdir()
    assert complete_path("rep", tmp_path) == "report-202"
    assert complete_path("dr", tmp_path) == "drafts/"
    assert complete_path(f"{tmp_path}/report-2025", tmp_path) == f"{tmp_path}/report-2025.txt"
    assert complete_path("nothing", tmp_path) == "nothing"
