"""The lore actor: the knowledge base's request/reply API on the bus.

``lw.rpc.<world>.kb.search`` answers :class:`LoreSearch` with :class:`LoreHits` (hybrid search
over global lore and the world's own); ``lw.rpc.<world>.kb.context`` answers
:class:`LoreContextRequest` with the lore, memories and events to build a prompt from.
"""

from __future__ import annotations

from typing import Any

from loreweave.actors.runtime import Actor, Context, reply
from loreweave.kb.api import handle_context, handle_search
from loreweave.kb.store import KnowledgeBase
from loreweave.protocol import LoreweaveError
from loreweave.schemas.kb import LoreContext, LoreContextRequest, LoreHits, LoreSearch


def _unwrap(answer: dict[str, Any]) -> dict[str, Any]:
    if not answer.get("ok"):
        error = answer.get("error", {})
        raise LoreweaveError(error.get("field", "request"), error.get("reason", "refused"))
    return answer


class Lore(Actor):
    """Answers knowledge-base searches and prompt-context requests."""

    name = "lore"

    def __init__(self, kb: KnowledgeBase) -> None:
        super().__init__()
        self.kb = kb

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
