"""Ingestion into the real database: upsert, skip unchanged files, replace changed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from loreweave.kb import KnowledgeBase, KnowledgeBaseError, ingest_path, remove_document, search


class RecordingProgress:
    def __init__(self) -> None:
        self.total: int | None = None
        self.files: int | None = None
        self.advanced: list[tuple[int, str]] = []

    def start(self, total_chunks: int, files: int) -> None:
        self.total, self.files = total_chunks, files

    def advance(self, chunks: int, source: str) -> None:
        self.advanced.append((chunks, source))


async def _chunks(kb: KnowledgeBase, world: str) -> list[tuple[int, str, str]]:
    rows = await kb.pool.fetch(
        "SELECT c.id, d.source, c.body FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id"
        " WHERE d.world_id = $1 ORDER BY d.source, c.ordinal",
        world,
    )
    return [(row["id"], row["source"], row["body"]) for row in rows]


async def test_a_folder_is_ingested_with_progress_and_reingesting_it_does_nothing(
    kb: KnowledgeBase, world: str, lore_dir: Path
) -> None:
    progress = RecordingProgress()
    report = await ingest_path(kb, lore_dir, world=world, progress=progress)
    assert report.added == ["moons.md", "rumours.txt", "tavern.md"]
    assert report.chunks_written == 4 and progress.total == 4 and progress.files == 3
    assert sum(n for n, _ in progress.advanced) == 4
    before = await _chunks(kb, world)
    assert [source for _, source, _ in before] == ["moons.md", "moons.md", "rumours.txt", "tavern.md"]

    again = await ingest_path(kb, lore_dir, world=world, progress=(quiet := RecordingProgress()))
    assert again.unchanged == ["moons.md", "rumours.txt", "tavern.md"]
    assert not again.changed and again.chunks_written == 0 and quiet.total == 0
    assert await _chunks(kb, world) == before  # same rows, same ids: nothing rewritten


async def test_a_changed_file_has_its_chunks_replaced(kb: KnowledgeBase, world: str, lore_dir: Path) -> None:
    await ingest_path(kb, lore_dir, world=world)
    untouched = [c for c in await _chunks(kb, world) if c[1] != "tavern.md"]
    (lore_dir / "tavern.md").write_text(
        "# The Sleeping Ox\n\nThe tavern burned down in the winter of 1203; Brenna Coil now sells eels.\n",
        encoding="utf-8",
    )
    report = await ingest_path(kb, lore_dir, world=world)
    assert report.updated == ["tavern.md"] and report.unchanged == ["moons.md", "rumours.txt"]
    after = await _chunks(kb, world)
    tavern = [body for _, source, body in after if source == "tavern.md"]
    assert tavern == ["The tavern burned down in the winter of 1203; Brenna Coil now sells eels."]
    assert [c for c in after if c[1] != "tavern.md"] == untouched
    hits = await search(kb, "black pepper stew", world=world, method="text")
    assert all("pepper" not in hit.text for hit in hits)


async def test_ingesting_one_file_names_it_as_its_folder_does(kb: KnowledgeBase, world: str, lore_dir: Path) -> None:
    await ingest_path(kb, lore_dir, world=world)
    report = await ingest_path(kb, lore_dir / "moons.md", world=world)
    assert report.unchanged == ["moons.md"]


async def test_a_bad_file_in_a_folder_stops_everything_before_any_write(
    kb: KnowledgeBase, world: str, lore_dir: Path
) -> None:
    (lore_dir / "zz-binary.md").write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(KnowledgeBaseError, match="zz-binary.md is a binary file"):
        await ingest_path(kb, lore_dir, world=world)
    assert await _chunks(kb, world) == []


async def test_a_huge_file_is_refused(kb: KnowledgeBase, world: str, tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    big.write_text("lore " * 1000, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="over the .* limit"):
        await ingest_path(kb, big, world=world, max_file_bytes=1000)


async def test_a_bad_world_id_is_refused_by_name(kb: KnowledgeBase, lore_dir: Path) -> None:
    with pytest.raises(KnowledgeBaseError) as caught:
        await ingest_path(kb, lore_dir, world="no such world")
    assert caught.value.field == "world"


async def test_a_removed_document_leaves_search(kb: KnowledgeBase, world: str, lore_dir: Path) -> None:
    await ingest_path(kb, lore_dir, world=world)
    assert await remove_document(kb, "tavern.md", world=world)
    assert not await remove_document(kb, "tavern.md", world=world)
    assert [source for _, source, _ in await _chunks(kb, world)] == ["moons.md", "moons.md", "rumours.txt"]
