import asyncio

from loreweave.actors.journal import Journal
from loreweave.schemas import NarrativeBeat, NpcSaid, PlayerMoved

from .conftest import eventually


async def test_story_frames_are_journaled_once_and_others_are_not(bus, start_node, world, database) -> None:
    actor = Journal()
    await start_node(actor, database=database)
    beat = await bus.emit(NarrativeBeat(text="The bells of Harrow toll at noon."), world, source="test", durable=True)
    said = await bus.emit(NpcSaid(npc_id="mira", text="Mind the bells."), world, source="test", durable=True)
    await bus.emit(PlayerMoved(player_id="p1", region="harrow"), world, source="test", durable=True)
    await bus.publish(beat, durable=False)  # a second delivery of the same frame id

    async def journaled() -> bool:
        return len(await database.journal.query(world)) >= 2

    await eventually(journaled, timeout=30)  # it replays every world's story retained in the stream
    await asyncio.sleep(0.5)
    assert actor.state.written >= 2
    entries = await database.journal.query(world)
    assert [entry.frame_id for entry in entries] == [beat.id, said.id]
    assert {entry.type for entry in entries} == {"narrative.beat", "npc.said"}
    by_type = await database.journal.query(world, types=["npc.said"])
    assert [entry.payload["text"] for entry in by_type] == ["Mind the bells."]
