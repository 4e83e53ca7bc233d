"""Reflection, as in Generative Agents: when the importance of an owner's new observations
adds up past a threshold, higher-level memories are drawn from them and written back.

A :class:`ReflectionWriter` (a language model) may write the insights; without one, the
scripted writer groups the observations by subject and states what stands out about each,
citing the memories it drew on (``evidence``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Protocol

from loreweave.kb.memory import Memory, _memory, memory_settings, remember
from loreweave.kb.store import KnowledgeBase

logger = logging.getLogger(__name__)

#: Observations a reflection reads at most (the newest since the last reflection).
REFLECTION_WINDOW = 100
#: Insights written per reflection at most (the paper asks for five).
MAX_INSIGHTS = 5


class ReflectionWriter(Protocol):
    """Writes insights from an owner's recent memories: (text, indexes of the memories used)."""

    async def insights(self, world: str, owner: str, memories: list[Memory]) -> list[tuple[str, list[int]]]:
        """Up to :data:`MAX_INSIGHTS` insights, each citing the memories (by index) it rests on."""
        ...


class ScriptedReflection:
    """Insights without a model: for each subject that recurs, what the owner has gathered about it."""

    async def insights(self, world: str, owner: str, memories: list[Memory]) -> list[tuple[str, list[int]]]:
        """One insight per subject seen at least twice, the weightiest subjects first."""
        groups: dict[str, list[int]] = defaultdict(list)
        for index, memory in enumerate(memories):
            groups[memory.subject or memory.kind].append(index)
        ranked = sorted(
            (indexes for indexes in groups.values() if len(indexes) >= 2),
            key=lambda indexes: -sum(memories[i].importance for i in indexes),
        )
        out = []
        for indexes in ranked[:MAX_INSIGHTS]:
            first = memories[indexes[0]]
            about = first.subject or f"{first.kind} matters"
            top = sorted(indexes, key=lambda i: -memories[i].importance)[:2]
            gist = "; ".join(memories[i].text for i in top)
            out.append((f"What I have come to know about {about} ({len(indexes)} times lately): {gist}", indexes))
        return out


async def pending_importance(kb: KnowledgeBase, world: str, owner: str) -> float:
    """Summed importance of ``owner``'s observations since its last reflection."""
    value = await kb.pool.fetchval(
        """
        SELECT coalesce(sum(importance), 0) FROM kb_memories
         WHERE world_id = $1 AND owner = $2 AND kind <> 'reflection'
           AND id > coalesce((SELECT max(id) FROM kb_memories
                               WHERE world_id = $1 AND owner = $2 AND kind = 'reflection'), 0)
        """,
        world,
        owner,
    )
    return float(value)


async def reflect(
    kb: KnowledgeBase,
    world: str,
    owner: str,
    *,
    writer: ReflectionWriter | None = None,
    at: datetime | None = None,
) -> list[Memory]:
    """Draw insights from ``owner``'s observations since its last reflection and store them.

    Each insight is a ``reflection`` memory whose importance is that of the weightiest memory
    it rests on, plus one (reflections outweigh their parts), and whose ``evidence`` lists them.
    A writer that fails is logged and replaced by the scripted one.
    """
    rows = await kb.pool.fetch(
        """
        SELECT * FROM kb_memories
         WHERE world_id = $1 AND owner = $2 AND kind <> 'reflection'
           AND id > coalesce((SELECT max(id) FROM kb_memories
                               WHERE world_id = $1 AND owner = $2 AND kind = 'reflection'), 0)
         ORDER BY id DESC LIMIT $3
        """,
        world,
        owner,
        REFLECTION_WINDOW,
    )
    memories = [_memory(row) for row in reversed(rows)]
    if not memories:
        return []
    scripted = ScriptedReflection()
    try:
        insights = await (writer or scripted).insights(world, owner, memories)
    except Exception as exc:  # noqa: BLE001  (a failing model must not stop reflection)
        logger.info("reflection of %s in %s: writer failed (%s); using the script", owner, world, type(exc).__name__)
        insights = await scripted.insights(world, owner, memories)
    if not insights:
        # Nothing recurred: mark the reflection done, so the same observations are not reread.
        insights = [(f"Nothing in particular stood out lately ({len(memories)} small things).", [])]
    written = []
    for text, indexes in insights[:MAX_INSIGHTS]:
        used = [memories[i] for i in indexes if 0 <= i < len(memories)]
        importance = min(10.0, max((m.importance for m in used), default=1.0) + 1.0)
        subjects = {m.subject for m in used}
        written.append(
            await remember(
                kb, world, owner, text[:4000], importance=importance, at=at, kind="reflection",
                subject=subjects.pop() if len(subjects) == 1 else None, evidence=[m.id for m in used],
            )
        )
    return written


async def maybe_reflect(
    kb: KnowledgeBase,
    world: str,
    owner: str,
    *,
    writer: ReflectionWriter | None = None,
    threshold: float | None = None,
    at: datetime | None = None,
) -> list[Memory]:
    """Reflect when the pending importance reaches ``threshold`` (default: the world's); else nothing."""
    limit = threshold if threshold is not None else (await memory_settings(kb, world)).reflect_threshold
    if await pending_importance(kb, world, owner) < limit:
        return []
    return await reflect(kb, world, owner, writer=writer, at=at)
