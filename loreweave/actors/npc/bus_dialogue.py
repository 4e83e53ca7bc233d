"""NPC lines written by the AI layer over the bus, with lore and memories from the knowledge base.

Wrap it so a game never waits on a model: ``FallbackDialogue(BusDialogue(bus), ScriptedDialogue(seed))``.
"""

from __future__ import annotations

from typing import Any

from loreweave.actors.npc.dialogue import DialogueLine, DialogueRequest
from loreweave.actors.runtime import Bus, RequestError, frame_for
from loreweave.protocol import LoreweaveError
from loreweave.schemas.ai import GenerateRequest
from loreweave.schemas.kb import LoreContextRequest


def dialogue_prompt(request: DialogueRequest, lore: str) -> str:
    """The prompt for one line: who speaks, to whom, where, in what mood, and what they know."""
    lines = [
        f"You are {request.npc_name}, a {request.role} in {request.place or 'the world'}.",
        f"Mood: {request.mood}. Standing with {request.player_id or 'the traveller'}: {request.standing}.",
        f"Weather: {request.weather}. Traits: {', '.join(request.traits) or 'none'}.",
        f"Content rating: {request.content_rating}. Answer in one or two sentences, in character.",
    ]
    if request.memory:
        lines.append("You remember: " + "; ".join(request.memory))
    if lore:
        lines.append(lore)
    if request.player_text:
        lines.append(f"{request.player_id or 'The traveller'} says: {request.player_text}")
    else:
        lines.append(f"Say a {request.purpose} line.")
    return "\n".join(lines)


class BusDialogue:
    """Asks ``lw.ai.generate`` (kind ``dialogue``) for each line, after fetching lore context.

    Lore comes from the ``lore`` actor (``lw.rpc.<world>.kb.context``) within ``lore_timeout_s``;
    without an answer the line is written without it. Errors of the AI layer are raised (typed),
    for :class:`~loreweave.actors.npc.dialogue.FallbackDialogue` to catch.
    """

    def __init__(
        self, bus: Bus, *, timeout_s: float = 2.0, lore_timeout_s: float = 0.5, subject: str = "lw.ai.generate"
    ) -> None:
        from loreweave.serve.client import AIClient  # the serve extra is only needed when used

        self.bus = bus
        self.client: Any = AIClient(bus, source="npc", subject=subject)
        self.timeout_s = timeout_s
        self.lore_timeout_s = lore_timeout_s

    async def lore(self, request: DialogueRequest) -> str:
        """Lore and the NPC's memories about what is said, rendered for a prompt ('' if none)."""
        query = request.player_text or f"{request.place} {request.role}"
        ask = LoreContextRequest(query=query, owner=request.npc_id, lore_k=2, memory_k=2, events_k=1)
        try:
            reply = await self.bus.request(frame_for(ask, request.world, "npc"), timeout=self.lore_timeout_s)
        except (RequestError, LoreweaveError):
            return ""
        return str(reply.payload.context.get("text", ""))

    async def line(self, request: DialogueRequest) -> DialogueLine:
        """The AI layer's line for ``request``, naming the tier that wrote it."""
        lore = await self.lore(request)
        result = await self.client.generate(
            request.world,
            GenerateRequest(
                kind="dialogue",
                prompt=dialogue_prompt(request, lore),
                context={"npc": request.npc_name, "role": request.role, "mood": request.mood,
                         "place": request.place, "player": request.player_id or "", "topic": request.player_text},
                player_id=request.player_id,
            ),
            timeout=self.timeout_s,
        )
        notes = ("lore",) if lore else ()
        return DialogueLine(result.text, result.tier, result.latency_ms, notes)
