"""Ingestion: read lore files, chunk them, embed the chunks and upsert them.

A file whose bytes (and chunking pipeline) are unchanged since it was last ingested
is skipped without embedding anything; a changed one has all its chunks replaced in
one transaction, so a search never sees half a document.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg

from loreweave.kb.chunking import MAX_CHUNK_CHARS, TextChunk, split_text
from loreweave.kb.embed import MODEL_NAME
from loreweave.kb.sources import MAX_FILE_BYTES, SourceFile, discover, read_source
from loreweave.kb.store import KnowledgeBase
from loreweave.kb.worlds import check_world_id, ensure_world

#: Bump when chunking changes in a way that should re-chunk unchanged files.
CHUNKER_VERSION = 1
#: Chunks embedded per call (progress is reported after each batch).
EMBED_BATCH = 64


class IngestProgress(Protocol):
    """Receives progress while an ingestion runs (the CLI draws a bar with it)."""

    def start(self, total_chunks: int, files: int) -> None:
        """Called once, with the number of chunks about to be embedded."""

    def advance(self, chunks: int, source: str) -> None:
        """Called after each batch of ``chunks`` of ``source`` is embedded."""


@dataclass(slots=True)
class IngestReport:
    """What an ingestion did, by source key."""

    world: str | None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_written: int = 0

    @property
    def changed(self) -> bool:
        """True when anything was written."""
        return bool(self.added or self.updated)


def pipeline_id(max_chars: int) -> str:
    """Names the model and chunking settings, stored with each document."""
    return f"{MODEL_NAME}/chunker-v{CHUNKER_VERSION}/{max_chars}"


async def ingest_path(
    kb: KnowledgeBase,
    path: Path | str,
    *,
    world: str | None = None,
    max_chars: int = MAX_CHUNK_CHARS,
    max_file_bytes: int = MAX_FILE_BYTES,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Ingest a Markdown/text file, or every such file under a folder, into ``world``.

    ``world=None`` makes the documents global lore, visible from every world. The world
    is created if it does not exist.

    Raises:
        KnowledgeBaseError: a bad world id, a missing path, or a file that is binary,
            not UTF-8, too large or of another type; nothing is written then.
    """
    if world is not None:
        check_world_id(world)
    root = Path(path)
    sources = await asyncio.to_thread(_read_all, root, max_file_bytes)
    pipeline = pipeline_id(max_chars)
    report = IngestReport(world=world)
    if world is not None:
        await ensure_world(kb.pool, world)
    known = await _known_documents(kb.pool, world, [s.source for s in sources])
    todo: list[tuple[SourceFile, list[TextChunk]]] = []
    for source in sources:
        if known.get(source.source) == (source.content_hash, pipeline):
            report.unchanged.append(source.source)
        else:
            todo.append((source, split_text(source.text, max_chars=max_chars)))
    if progress is not None:
        progress.start(sum(len(chunks) for _, chunks in todo), len(todo))
    for source, chunks in todo:
        vectors: list[object] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            vectors.extend(await kb.embedder.embed([chunk.embedding_text() for chunk in batch]))
            if progress is not None:
                progress.advance(len(batch), source.source)
        await _replace_document(kb.pool, world, source, pipeline, chunks, vectors)
        (report.updated if source.source in known else report.added).append(source.source)
        report.chunks_written += len(chunks)
    return report


def _read_all(root: Path, max_file_bytes: int) -> list[SourceFile]:
    return [read_source(file, key, max_bytes=max_file_bytes) for file, key in discover(root)]


async def _known_documents(
    pool: asyncpg.Pool, world: str | None, sources: list[str]
) -> dict[str, tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT source, content_hash, pipeline FROM kb_documents"
        " WHERE world_id IS NOT DISTINCT FROM $1 AND source = ANY($2::text[])",
        world,
        sources,
    )
    return {row["source"]: (row["content_hash"], row["pipeline"]) for row in rows}


async def _replace_document(
    pool: asyncpg.Pool,
    world: str | None,
    source: SourceFile,
    pipeline: str,
    chunks: list[TextChunk],
    vectors: list[object],
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        document_id = await conn.fetchval(
            """
            INSERT INTO kb_documents (world_id, source, title, content_hash, pipeline, size_bytes)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT ON CONSTRAINT kb_documents_source_key DO UPDATE
               SET title = EXCLUDED.title, content_hash = EXCLUDED.content_hash,
                   pipeline = EXCLUDED.pipeline, size_bytes = EXCLUDED.size_bytes,
                   updated_at = now()
            RETURNING id
            """,
            world,
            source.source,
            source.title,
            source.content_hash,
            pipeline,
            len(source.text.encode("utf-8")),
        )
        await conn.execute("DELETE FROM kb_chunks WHERE document_id = $1", document_id)
        await conn.executemany(
            """
            INSERT INTO kb_chunks (document_id, world_id, ordinal, heading, heading_path, body, embedding, tsv)
            VALUES ($1, $2, $3, $4, $5, $6, $7,
                    setweight(to_tsvector('english', array_to_string($5::text[], ' ')), 'A')
                    || setweight(to_tsvector('english', $6), 'B'))
            """,
            [
                (document_id, world, chunk.ordinal, chunk.heading, list(chunk.heading_path), chunk.text, vector)
                for chunk, vector in zip(chunks, vectors, strict=True)
            ],
        )


async def remove_document(kb: KnowledgeBase, source: str, *, world: str | None = None) -> bool:
    """Delete one document and its chunks; True if it existed."""
    result = await kb.pool.execute(
        "DELETE FROM kb_documents WHERE world_id IS NOT DISTINCT FROM $1 AND source = $2", world, source
    )
    return result != "DELETE 0"
