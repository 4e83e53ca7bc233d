"""The lore actor: the knowledge base's face on the bus.

Answers (``lw.rpc.<world>.kb.*``): ``kb.search`` (:class:`LoreSearch` → :class:`LoreHits`),
``kb.context`` (lore, memories and events for a prompt), ``kb.memories`` (an NPC's memories,
for ``loreweave kb memories``) and ``kb.concept`` (a concept's history). Consumes
``kb.observe`` (:class:`MemoryObserved`): what NPCs saw and heard becomes their memories, rated
by ``rater`` (the AI tier) when it answers and estimated otherwise, with reflection when enough
has piled up. The embedding model stays loaded in this process, so a CLI asking this actor
answers in milliseconds instead of loading it again.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from loreweave.actors.runtime import Actor, Context, on, reply
from loreweave.kb.api import handle_context, handle_search
from loreweave.kb.concepts import concept_history
from loreweave.kb.importance import AIImportance, ImportanceRater
from loreweave.kb.memory import list_memories, recall
from loreweave.kb.observations import observe
from loreweave.kb.reflection import ReflectionWriter
from loreweave.kb.store import KnowledgeBase
from loreweave.protocol import Frame, LoreweaveError
from loreweave.schemas.kb import (
    ConceptReply,
    ConceptRequest,
    LoreContext,
    LoreContextRequest,
    LoreHits,
    LoreSearch,
    MemoriesReply,
    MemoriesRequest,
    MemoryObserved,
)

logger = logging.getLogger(__name__)


def _unwrap(answer: dict[str, Any]) -> dict[str, Any]:
    if not answer.get("ok"):
        error = answer.get("error", {})
        raise LoreweaveError(error.get("field", "request"), error.get("reason", "refused"))
    return answer


def importance_rater(bus: Any) -> ImportanceRater | None:
    """Rate memories by the AI layer reached over ``bus`` (None without the ``serve`` extra)."""
    try:
        from loreweave.serve.client import AIClient
    except ImportError:
        return None
    return AIImportance(AIClient(bus, source="lore"))


def _owner_key(frame: Frame) -> Hashable:
    """One owner's observations in order (reflection counts what came before)."""
    return (frame.world, getattr(frame.payload, "owner", None))


class Lore(Actor):
    """Answers knowledge-base requests and keeps the memories NPCs report.

    Args:
        kb: the knowledge base.
        rater: rates a memory's importance (the AI tier); None: the scripted estimate.
        reflector: writes reflections (a model); None: the scripted reflection.
    """

    name = "lore"

    def __init__(
        self, kb: KnowledgeBase, *, rater: ImportanceRater | None = None, reflector: ReflectionWriter | None = None
    ) -> None:
        super().__init__()
        self.kb = kb
        self.rater = rater
        self.reflector = reflector

    @reply("lw.rpc.*.kb.search")
    async def search(self, request: LoreSearch, ctx: Context) -> LoreHits:
        """Hybrid (or vector / full-text) search scoped to global lore plus the frame's world."""
        fields = {"query": request.query, "world": ctx.frame.world, "k": request.k, "method": request.method}
        return LoreHits(hits=_unwrap(await handle_search(self.kb, fields))["hits"])

    @reply("lw.rpc.*.kb.context")
    async def context(self, request: LoreContextRequest, ctx: Context) -> LoreContext:
        """Lore snippets, memories and recent story events for a prompt."""
        fields = {
            "world": ctx.frame.world, "query": request.query, "owner": request.owner,
            "lore_k": request.lore_k, "memory_k": request.memory_k, "events_k": request.events_k,
        }
        return LoreContext(context=_unwrap(await handle_context(self.kb, fields))["context"])

    @reply("lw.rpc.*.kb.memories")
    async def memories(self, request: MemoriesRequest, ctx: Context) -> MemoriesReply:
        """An owner's memories: the best for the query (without marking them recalled), else the newest."""
        if request.query:
            found = await recall(self.kb, ctx.frame.world, request.owner, request.query, k=request.k, touch=False)
            return MemoriesReply(memories=[item.to_dict() for item in found])
        newest = await list_memories(self.kb, ctx.frame.world, request.owner, limit=request.k)
        return MemoriesReply(memories=[{"memory": memory.to_dict()} for memory in newest])

    @reply("lw.rpc.*.kb.concept")
    async def concept(self, request: ConceptRequest, ctx: Context) -> ConceptReply:
        """A concept's history in the frame's world (or the global concept of that name)."""
        history = await concept_history(self.kb, request.name, world=ctx.frame.world)
        return ConceptReply(history=history.to_dict())

    @on("lw.*.kb.observe", key=_owner_key)
    async def observed(self, event: MemoryObserved, ctx: Context) -> None:
        """Keep an observation as its owner's memory; reflect when the world's threshold is reached."""
        result = await observe(
            self.kb, ctx.frame.world, event.owner, event.text, kind=event.kind, subject=event.subject,
            importance=event.importance, rater=self.rater, reflector=self.reflector,
        )
        if result.reflections:
            logger.info("%s in %s reflected: %d new memories", event.owner, ctx.frame.world, len(result.reflections))
