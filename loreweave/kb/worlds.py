"""World ids in the knowledge base: validation, creation, existence checks."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg

from loreweave.kb.errors import KnowledgeBaseError, UnknownWorldError
from loreweave.protocol.errors import SubjectError
from loreweave.protocol.subjects import check_world

#: Anything that runs a statement: a pool, or a connection (inside a transaction, say).
Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"


def check_world_id(world: str) -> str:
    """Return ``world`` if it can name a world (same rule as NATS subjects), else raise.

    Raises:
        KnowledgeBaseError: field ``world``.
    """
    try:
        return check_world(world)
    except SubjectError as exc:
        raise KnowledgeBaseError("world", exc.reason) from None


async def ensure_world(db: Executor, world: str, title: str | None = None) -> None:
    """Create the world if it does not exist yet (a no-op otherwise)."""
    check_world_id(world)
    await db.execute(
        "INSERT INTO kb_worlds (id, title) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", world, title
    )


async def require_world(db: Executor, world: str | None) -> None:
    """Check that ``world`` is known (None, for global lore only, always is).

    Raises:
        KnowledgeBaseError: the id is malformed.
        UnknownWorldError: no such world.
    """
    if world is None:
        return
    check_world_id(world)
    if not await db.fetchval("SELECT EXISTS (SELECT 1 FROM kb_worlds WHERE id = $1)", world):
        raise UnknownWorldError(world)


async def list_worlds(db: Executor) -> list[str]:
    """Every world id the knowledge base knows, sorted."""
    rows = await db.fetch("SELECT id FROM kb_worlds ORDER BY id")
    return [row["id"] for row in rows]
