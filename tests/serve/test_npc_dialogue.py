"""NPC lines written by the AI layer through the real bus and Ray Serve, and the scripted fallback."""

from __future__ import annotations

import time

from loreweave.actors.npc.bus_dialogue import BusDialogue, dialogue_prompt
from loreweave.actors.npc.dialogue import DialogueRequest, FallbackDialogue, ScriptedDialogue
from loreweave.actors.runtime import Bus


def request(world: str) -> DialogueRequest:
    return DialogueRequest(
        npc_id="mira", npc_name="Mira", role="ferrywoman", purpose="reply", player_id="p1",
        player_text="Is the river safe tonight?", place="Harrow Ford", world=world, tier="gold",
        memory=("d1 06:00 saw smoke over the hills",),
    )


def test_the_prompt_carries_persona_memory_lore_and_the_question() -> None:
    prompt = dialogue_prompt(request("w1"), "Lore:\n- [Rivers] The Sallow floods in spring.")
    for part in ("Mira", "ferrywoman", "Harrow Ford", "smoke over the hills", "The Sallow floods", "river safe"):
        assert part in prompt


async def test_an_npc_line_is_written_by_an_ai_tier_over_the_bus(ai_app, nats_server_url, world) -> None:
    bus = await Bus.connect(nats_server_url, name="test-npc-writer")
    try:
        line = await BusDialogue(bus, timeout_s=10).line(request(world))
    finally:
        await bus.close()
    assert line.text
    assert line.tier != "scripted", "the line should come from a tier of the AI layer"
    assert line.tier in ai_app.config.tiers


async def test_without_a_bridge_the_scripted_line_answers_within_the_budget(nats_server_url, world) -> None:
    bus = await Bus.connect(nats_server_url, name="test-npc-fallback")
    try:
        writer = FallbackDialogue(BusDialogue(bus, subject="lw.ai.nobody"), ScriptedDialogue(7), 1.0)
        started = time.perf_counter()
        line = await writer.line(request(world))
    finally:
        await bus.close()
    assert line.tier == "scripted" and line.text
    assert time.perf_counter() - started < 1.5
