"""The lore pages: search through the knowledge base's API, and read-only views of its documents,
chunks and concepts (which the kb package has no listing functions for).

Every view is scoped as a search is: global lore (``world_id`` NULL) plus one world's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from loreweave.protocol.errors import LoreweaveError


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """A lore document: where it came from and how many chunks it has."""

    id: int
    world: str | None
    source: str
    title: str
    size_bytes: int
    chunks: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """One chunk of a document."""

    id: int
    ordinal: int
    heading: str
    heading_path: list[str]
    body: str


@dataclass(frozen=True, slots=True)
class ConceptRow:
    """A concept and its latest version."""

    name: str
    kind: str
    world: str | None
    versions: int
    summary: str


class LoreUnavailable(LoreweaveError):
    """The knowledge base's tables are missing (migrations not applied) or its extra is not installed."""


def _missing(exc: Exception) -> LoreUnavailable:
    return LoreUnavailable("kb", f"{exc}: run `loreweave db migrate` (and install loreweave[kb])")


async def list_documents(pool: asyncpg.Pool, world: str) -> list[DocumentRow]:
    """Global and ``world`` documents, by title."""
    try:
        rows = await pool.fetch(
            """
            SELECT d.id, d.world_id, d.source, d.title, d.size_bytes, d.updated_at,
                   (SELECT count(*) FROM kb_chunks c WHERE c.document_id = d.id) AS chunks
              FROM kb_documents d WHERE d.world_id IS NULL OR d.world_id = $1
             ORDER BY d.world_id NULLS FIRST, lower(d.title), d.id
            """,
            world,
        )
    except asyncpg.UndefinedTableError as exc:
        raise _missing(exc) from None
    return [
        DocumentRow(r["id"], r["world_id"], r["source"], r["title"], r["size_bytes"], r["chunks"], r["updated_at"])
        for r in rows
    ]


async def open_document(pool: asyncpg.Pool, world: str, document_id: int) -> tuple[DocumentRow, list[ChunkRow]]:
    """A document in scope and its chunks in order.

    Raises:
        LoreweaveError: no such document in global or ``world`` lore (field ``document``).
    """
    try:
        row = await pool.fetchrow(
            """
            SELECT d.id, d.world_id, d.source, d.title, d.size_bytes, d.updated_at,
                   (SELECT count(*) FROM kb_chunks c WHERE c.document_id = d.id) AS chunks
              FROM kb_documents d WHERE d.id = $1 AND (d.world_id IS NULL OR d.world_id = $2)
            """,
            document_id, world,
        )
        if row is None:
            raise LoreweaveError("document", f"no document {document_id} in global or {world} lore")
        chunks = await pool.fetch(
            "SELECT id, ordinal, heading, heading_path, body FROM kb_chunks WHERE document_id = $1 ORDER BY ordinal",
            document_id,
        )
    except asyncpg.UndefinedTableError as exc:
        raise _missing(exc) from None
    document = DocumentRow(row["id"], row["world_id"], row["source"], row["title"], row["size_bytes"],
                           row["chunks"], row["updated_at"])
    return document, [ChunkRow(c["id"], c["ordinal"], c["heading"], list(c["heading_path"]), c["body"]) for c in chunks]


async def document_of_chunk(pool: asyncpg.Pool, chunk_id: int) -> int | None:
    """The document holding a chunk (to link a search hit to its document)."""
    try:
        return await pool.fetchval("SELECT document_id FROM kb_chunks WHERE id = $1", chunk_id)
    except asyncpg.UndefinedTableError as exc:
        raise _missing(exc) from None


async def list_concepts(pool: asyncpg.Pool, world: str) -> list[ConceptRow]:
    """Global and ``world`` concepts with their latest summary, by kind and name."""
    try:
        rows = await pool.fetch(
            """
            SELECT c.name, c.kind, c.world_id, count(v.version) AS versions,
                   (SELECT v2.summary FROM kb_concept_versions v2 WHERE v2.concept_id = c.id
                     ORDER BY v2.version DESC LIMIT 1) AS summary
              FROM kb_concepts c LEFT JOIN kb_concept_versions v ON v.concept_id = c.id
             WHERE c.world_id IS NULL OR c.world_id = $1
             GROUP BY c.id ORDER BY c.kind, lower(c.name)
            """,
            world,
        )
    except asyncpg.UndefinedTableError as exc:
        raise _missing(exc) from None
    return [ConceptRow(r["name"], r["kind"], r["world_id"], r["versions"], r["summary"] or "") for r in rows]


async def search_lore(kb: Any, query: str, world: str, *, method: str = "hybrid", k: int = 8) -> list[Any]:
    """The knowledge base's search (``loreweave.kb.search``) in global plus ``world`` lore.

    A world the knowledge base does not know yet is searched as global lore only.

    Raises:
        KnowledgeBaseError: a bad query, method or k (naming the field).
    """
    from loreweave.kb import UnknownWorldError, search

    try:
        return await search(kb, query, world=world, k=k, method=method)  # type: ignore[arg-type]
    except UnknownWorldError:
        return await search(kb, query, world=None, k=k, method=method)  # type: ignore[arg-type]


async def concept_timeline(kb: Any, name: str, world: str) -> Any:
    """Every version of a concept with the story event that changed it (``loreweave.kb.concept_history``).

    Raises:
        NotFoundError: no such concept.
    """
    from loreweave.kb import concept_history

    return await concept_history(kb, name, world=world)
