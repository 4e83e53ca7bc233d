"""NPC memories from the live game: the NPC actor reports what it met, heard, did and saw; the
lore actor keeps them in PostgreSQL, rated and reflected upon, and answers for them on the bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from loreweave.actors.lore import Lore
from loreweave.actors.npc import Npc, NpcWorld
from loreweave.actors.runtime import frame_for
from loreweave.db import create_pool, migrate
from loreweave.kb import KnowledgeBase, default_embedder, set_memory_settings
from loreweave.schemas import (
    NarrativeBeat,
    NpcSpawned,
    PlayerJoined,
    PlayerSpoke,
    QuestAccepted,
    QuestCompleted,
    SettingsChanged,
    WeatherChanged,
    WorldSettings,
)
from loreweave.schemas.kb import MemoriesReply, MemoriesRequest
from loreweave.testing import eventually, fresh_database
from tests.actors.game.conftest import small_map


@pytest.fixture(scope="module")
async def memory_kb(pg_server: str) -> AsyncIterator[KnowledgeBase]:
    """A migrated knowledge base of this module's own, with the real embedding model."""
    async with fresh_database(pg_server, "lw_npcmem_", vector=True) as dsn:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=4)
        embedder = default_embedder()
        await embedder.warm_up()
        try:
            yield KnowledgeBase(pool, embedder)
        finally:
            await pool.close()


async def _rows(kb: KnowledgeBase, world: str, owner: str) -> list[Any]:
    return await kb.pool.fetch(
        "SELECT kind, subject, body, importance, evidence FROM kb_memories WHERE world_id = $1 AND owner = $2 ORDER BY id",
        world, owner,
    )


async def test_the_game_writes_npc_memories_and_reflections(bus, start_node, world, memory_kb) -> None:
    await set_memory_settings(memory_kb, world, reflect_threshold=25)
    npc = Npc(seed=4)
    await start_node(npc, Lore(memory_kb))
    await bus.emit(small_map(), world, source="test")
    # every greeting happens: chatter at its highest
    await bus.emit(SettingsChanged(version=1, changes={"npc_chatter": 1.0}, settings=WorldSettings(npc_chatter=1.0)),
                   world, source="test")
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam", role="farmer", region="ford"), world, source="test")
    await eventually(lambda: "tam" in npc.state.worlds.get(world, NpcWorld()).npcs)
    await bus.emit(PlayerJoined(player_id="ann", region="ford"), world, source="test")
    await bus.emit(PlayerSpoke(player_id="ann", npc_id="tam", text="Did you see who stole the ferry rope?"),
                   world, source="test")
    await bus.emit(PlayerSpoke(player_id="ann", npc_id="tam", text="My sister is getting married at midsummer."),
                   world, source="test")
    await bus.emit(QuestAccepted(player_id="ann", quest_id="lost-lamb", giver="tam"), world, source="test")
    await bus.emit(QuestCompleted(player_id="ann", quest_id="lost-lamb", giver="tam"), world, source="test")
    await bus.emit(WeatherChanged(region="ford", condition="storm", previous="clear", season="autumn"), world, source="test")
    await bus.emit(NarrativeBeat(text="The bridge at Fennick's Ford burned in the night.", region="ford",
                                 kind="conflict", tension=0.8), world, source="test")

    async def written() -> list[Any]:
        rows = await _rows(memory_kb, world, "tam")
        return rows if {"met", "heard", "quest", "weather", "world", "reflection"} <= {r["kind"] for r in rows} else []

    rows = await eventually(written, timeout=30, message="every kind of memory, and a reflection")
    heard = [r for r in rows if r["kind"] == "heard"]
    assert any("ferry rope" in r["body"] and r["subject"] == "ann" for r in heard)
    assert all(1 <= r["importance"] <= 10 for r in rows)
    # no AI tier answers here: the scripted estimate weighs a burning bridge over a greeting
    by_kind = {r["kind"]: r["importance"] for r in rows}
    assert by_kind["world"] > by_kind["met"]
    reflection = next(r for r in rows if r["kind"] == "reflection")
    assert reflection["subject"] == "ann" and len(reflection["evidence"]) >= 2

    reply = await bus.request(frame_for(MemoriesRequest(owner="tam", query="Who took my rope?", k=3), world, "t"),
                              timeout=30)
    assert isinstance(reply.payload, MemoriesReply)
    assert any("rope" in item["memory"]["text"] for item in reply.payload.memories)
    newest = await bus.request(frame_for(MemoriesRequest(owner="tam", k=50), world, "t"), timeout=30)
    assert len(newest.payload.memories) == len(await _rows(memory_kb, world, "tam"))


async def test_an_npc_without_long_term_memory_reports_nothing(bus, start_node, world, memory_kb) -> None:
    npc = Npc(seed=4, long_term_memory=False)
    await start_node(npc, Lore(memory_kb))
    await bus.emit(small_map(), world, source="test")
    await bus.emit(NpcSpawned(npc_id="wren", name="Wren", region="ford"), world, source="test")
    await eventually(lambda: "wren" in npc.state.worlds.get(world, NpcWorld()).npcs)
    await bus.emit(PlayerSpoke(player_id="bob", npc_id="wren", text="Hello there"), world, source="test")
    await eventually(lambda: npc.state.worlds[world].npcs["wren"].memory)
    # the short-term memory has it; a request answered after the line shows the kb has nothing
    reply = await bus.request(frame_for(MemoriesRequest(owner="wren"), world, "t"), timeout=30)
    assert reply.payload.memories == []


async def test_an_ai_tier_that_answers_rates_the_memories(bus, start_node, world, memory_kb) -> None:
    from loreweave.actors.lore import importance_rater
    from loreweave.protocol import Frame
    from loreweave.schemas.ai import GenerateRequest, GenerateResult

    prompts: list[str] = []

    async def tier(msg: Any) -> None:  # a stand-in for the AI bridge: rates everything 8
        request = bus.decode(msg.data)
        assert isinstance(request.payload, GenerateRequest)
        prompts.append(request.payload.prompt)
        answer = Frame(type=GenerateResult.TYPE, world=request.world, source="ai",
                       payload=GenerateResult(text="Rating: 8", tier="stub"), version=GenerateResult.VERSION)
        await msg.respond(bus.encode(answer))

    await bus.nc.subscribe("lw.ai.generate", cb=tier)
    await bus.nc.flush()
    npc = Npc(seed=5)
    await start_node(npc, Lore(memory_kb, rater=importance_rater(bus)))
    await bus.emit(small_map(), world, source="test")
    await bus.emit(NpcSpawned(npc_id="ysa", name="Ysa", region="ford"), world, source="test")
    await eventually(lambda: "ysa" in npc.state.worlds.get(world, NpcWorld()).npcs)
    await bus.emit(PlayerSpoke(player_id="cal", npc_id="ysa", text="Nice weather."), world, source="test")
    rows = await eventually(lambda: _rows(memory_kb, world, "ysa"), timeout=30)
    assert rows[0]["importance"] == 8.0  # the script would have said 2 for small talk
    assert "poignancy" in prompts[0] and "Nice weather." in prompts[0]
