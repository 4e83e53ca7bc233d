"""Over a real nats-server: a frame is handled as its subject says, or dead-lettered ``subject_mismatch``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from loreweave.actors.runtime import Actor, Context, RequestError, frame_for, on
from loreweave.actors.world import World
from loreweave.protocol import DLQ_ERROR, DLQ_REASON, DLQ_SUBJECT
from loreweave.schemas import PlayerHeartbeat, PlayerMoved, WorldFlagSet, WorldQuery

from .conftest import eventually, live_dead_letters


async def dead_letter_of(letters: list[Any], subject: str) -> Any:
    """Wait for the dead letter of a frame published on ``subject``."""
    return await eventually(
        lambda: next((msg for msg in letters if (msg.headers or {}).get(DLQ_SUBJECT) == subject), None),
        timeout=10,
    )


async def test_a_frame_naming_another_world_than_its_subject_changes_nothing(bus, start_node, world) -> None:
    victim = "victim" + uuid.uuid4().hex[:8]
    actor = World()
    await start_node(actor)
    letters = await live_dead_letters(bus)
    await bus.emit(WorldFlagSet(flag="gate", value="shut"), victim, source="test")
    await eventually(lambda: victim in actor.state.worlds and actor.state.worlds[victim].flags.get("gate") == "shut")

    subject = f"lw.{world}.world.flag_set"  # the publisher may write here; not in the victim's world
    forged = frame_for(WorldFlagSet(flag="gate", value="open"), victim, "attacker")
    await bus.publish(forged, subject=subject)

    letter = await dead_letter_of(letters, subject)
    assert letter.headers[DLQ_REASON] == "subject_mismatch"
    answer = (await bus.request(frame_for(WorldQuery(kind="flag", id="gate"), victim, "test"))).payload
    assert (answer.found, answer.value) == (True, "shut")
    assert world not in actor.state.worlds


async def test_a_frame_of_another_type_than_its_subject_never_reaches_the_handler(bus, start_node, world) -> None:
    handled: list[Any] = []

    class Mover(Actor):
        name = f"mover-{world}"

        @on(f"lw.{world}.player.moved")
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            handled.append(event)

    await start_node(Mover())
    letters = await live_dead_letters(bus)
    subject = f"lw.{world}.player.moved"
    await bus.publish(frame_for(PlayerHeartbeat(player_id="p1"), world, "game"), subject=subject)

    letter = await dead_letter_of(letters, subject)
    assert letter.headers[DLQ_REASON] == "subject_mismatch"
    assert letter.headers[DLQ_ERROR].startswith("type:")
    await bus.emit(PlayerMoved(player_id="p1", region="ford"), world, source="game")
    await eventually(lambda: handled)
    assert [type(event) for event in handled] == [PlayerMoved]


async def test_a_request_naming_another_world_than_its_subject_is_refused(bus, start_node, world) -> None:
    await start_node(World())
    forged = frame_for(WorldQuery(kind="flag", id="gate"), "victim" + uuid.uuid4().hex[:8], "attacker")
    with pytest.raises(RequestError) as refused:
        await bus.request(forged, subject=f"lw.rpc.{world}.world.query")
    assert refused.value.code == "subject_mismatch"
