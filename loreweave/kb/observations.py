"""What an NPC (or the storyteller) observed, stored as a memory: importance rated or estimated,
then a reflection when enough has piled up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from loreweave.kb.importance import ImportanceRater, clamp_importance, estimate_importance
from loreweave.kb.memory import Memory, remember
from loreweave.kb.reflection import ReflectionWriter, maybe_reflect
from loreweave.kb.store import KnowledgeBase


@dataclass(frozen=True, slots=True)
class Observed:
    """The memory written, who rated it (``ai``, ``given`` or ``script``), and any reflections it set off."""

    memory: Memory
    rated_by: str
    reflections: list[Memory] = field(default_factory=list)


async def observe(
    kb: KnowledgeBase,
    world: str,
    owner: str,
    text: str,
    *,
    kind: str = "observation",
    subject: str | None = None,
    importance: float | None = None,
    rater: ImportanceRater | None = None,
    reflector: ReflectionWriter | None = None,
    at: datetime | None = None,
) -> Observed:
    """Remember an observation of ``owner``; reflect when the world's threshold is reached.

    ``importance`` given wins; else the ``rater`` (the AI tier) is asked; else the scripted
    estimate of :func:`~loreweave.kb.importance.estimate_importance` is used.

    Raises:
        KnowledgeBaseError: bad text, owner, kind, subject or importance (see :func:`remember`).
    """
    rated_by = "given"
    if importance is None:
        rating = await rater.rate(world, owner, kind, text) if rater is not None else None
        rated_by = "ai" if rating is not None else "script"
        importance = clamp_importance(rating) if rating is not None else estimate_importance(kind, text)
    memory = await remember(kb, world, owner, text, importance=importance, at=at, kind=kind, subject=subject)
    reflections = await maybe_reflect(kb, world, owner, writer=reflector, at=at)
    return Observed(memory, rated_by, reflections)
