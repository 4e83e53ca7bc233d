"""Reading lore files: supported types only, with a clear error for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from loreweave.kb import KnowledgeBaseError
from loreweave.kb.sources import discover, read_source


def test_a_folder_yields_its_lore_files_by_relative_key(lore_dir: Path) -> None:
    (lore_dir / "sub").mkdir()
    (lore_dir / "sub" / "deep.markdown").write_text("deep", encoding="utf-8")
    (lore_dir / ".hidden.md").write_text("secret", encoding="utf-8")
    keys = [key for _, key in discover(lore_dir)]
    assert keys == ["moons.md", "rumours.txt", "sub/deep.markdown", "tavern.md"]


def test_a_single_file_is_keyed_by_its_name(lore_dir: Path) -> None:
    assert discover(lore_dir / "moons.md") == [(lore_dir / "moons.md", "moons.md")]


def test_reading_gives_title_text_and_a_stable_hash(lore_dir: Path) -> None:
    source = read_source(lore_dir / "moons.md", "moons.md")
    again = read_source(lore_dir / "moons.md", "moons.md")
    assert source.title == "The Moons" and "Pallid" in source.text
    assert source.content_hash == again.content_hash and len(source.content_hash) == 64
    assert read_source(lore_dir / "rumours.txt", "rumours.txt").title == "rumours"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.md", "caf\xe9 au lait".encode("latin-1"), "not UTF-8"),
    ],
)
def test_binary_and_non_utf8_files_are_refused_by_name(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(KnowledgeBaseError, match=reason) as caught:
        read_source(path, name)
    assert caught.value.field == "path" and name in caught.value.reason


def test_a_huge_file_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "saga.md"
    path.write_text("A" * 3000, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="over the 2048 bytes limit"):
        read_source(path, "saga.md", max_bytes=2048)


def test_missing_paths_wrong_types_and_empty_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        discover(tmp_path / "nope")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    with pytest.raises(KnowledgeBaseError, match="not a Markdown or text file"):
        discover(tmp_path / "picture.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KnowledgeBaseError, match="holds no Markdown or text files"):
        discover(empty)
