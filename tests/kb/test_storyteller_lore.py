"""The storyteller weaves facts of the sample world's lore into its beats, through the bus."""

from __future__ import annotations

from typing import Any

from loreweave.actors.lore import Lore
from loreweave.actors.storyteller import Storyteller
from loreweave.schemas import PlayerJoined
from tests.actors.conftest import eventually
from tests.actors.game.conftest import small_map

from .conftest import SAMPLE_WORLD


async def test_beats_carry_a_lore_fact_when_the_lore_actor_answers(bus, start_node, sample_kb) -> None:
    beats: list[Any] = []

    async def keep(msg: Any) -> None:
        beats.append(bus.decode(msg.data).payload)

    await bus.nc.subscribe(f"lw.{SAMPLE_WORLD}.narrative.beat", cb=keep)
    await bus.sync()
    await start_node(Lore(sample_kb), Storyteller(seed=3, lore_timeout_s=20))
    await bus.emit(small_map(), SAMPLE_WORLD, source="test")
    await bus.emit(PlayerJoined(player_id="ann", name="Ann", region="ford"), SAMPLE_WORLD, source="test")
    await eventually(lambda: any(any(tag.startswith("lore:") for tag in beat.tags) for beat in beats), timeout=60)
    beat = next(beat for beat in beats if any(tag.startswith("lore:") for tag in beat.tags))
    assert "The old tales of" in beat.text


async def test_without_a_lore_actor_beats_are_told_plainly(bus, start_node, world) -> None:
    beats: list[Any] = []

    async def keep(msg: Any) -> None:
        beats.append(bus.decode(msg.data).payload)

    await bus.nc.subscribe(f"lw.{world}.narrative.beat", cb=keep)
    await bus.sync()
    await start_node(Storyteller(seed=3, lore_timeout_s=0.5))
    await bus.emit(small_map(), world, source="test")
    await bus.emit(PlayerJoined(player_id="ann", name="Ann", region="ford"), world, source="test")
    await eventually(lambda: len(beats) >= 1, timeout=20)
    assert not any(tag.startswith("lore:") for beat in beats for tag in beat.tags)
