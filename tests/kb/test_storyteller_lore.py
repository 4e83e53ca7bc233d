"""The storyteller weaves facts of the sample world's lore into its beats, through the bus."""

from __future__ import annotations

from typing import Any

from loreweave.actors.lore import Lore
from loreweave.actors.storyteller import Storyteller
from loreweave.schemas import PlayerJoined
from tests.actors.conftest import eventually
from tests.actors.game.conftest import small_map

from .conftest import SAMPLE_WORLD


async def beats_of(bus: Any, world: str) -> list[Any]:
    """The narrative beats of ``world`` from now on, as they come."""
    beats: list[Any] = []

    async def keep(msg: Any) -> None:
        beats.append(bus.decode(msg.data).payload)

    await bus.nc.subscribe(f"lw.{world}.narrative.beat", cb=keep)
    await bus.sync()
    return beats


async def test_beats_carry_a_lore_fact_when_the_lore_actor_answers(bus, start_node, sample_kb) -> None:
    beats = await beats_of(bus, SAMPLE_WORLD)
    await start_node(Lore(sample_kb), Storyteller(seed=3, lore_timeout_s=20))
    await bus.emit(small_map(), SAMPLE_WORLD, source="test")
    await bus.emit(PlayerJoined(player_id="ann", name="Ann", region="ford"), SAMPLE_WORLD, source="test")
    await eventually(lambda: any(any(tag.startswith("lore:") for tag in beat.tags) for beat in beats), timeout=60)
    beat = next(beat for beat in beats if any(tag.startswith("lore:") for tag in beat.tags))
    assert "The old tales of" in beat.text


async def test_without_a_lore_actor_beats_are_told_plainly(bus, start_node, world) -> None:
    beats = await beats_of(bus, world)
    await start_node(Storyteller(seed=3, lore_timeout_s=0.5))
    await bus.emit(small_map(), world, source="test")
    await bus.emit(PlayerJoined(player_id="ann", name="Ann", region="ford"), world, source="test")
    await eventually(lambda: len(beats) >= 1, timeout=20)
    assert not any(tag.startswith("lore:") for beat in beats for tag in beat.tags)


async def test_a_beat_tells_a_changed_concept_as_it_is_now_not_the_old_lore(
    bus, start_node, kb, world, tmp_path
) -> None:
    from loreweave.kb import ConceptChange, define_concept, ingest_path, record_event

    (tmp_path / "fells.md").write_text(
        "# The Fells\n\n## Rulers\n\nYrsa Vane, High Jarl of the Fells, rules from the hall at Skarth. "
        "Travellers who arrive at the ford are welcomed in her name.\n",
        encoding="utf-8",
    )
    await ingest_path(kb, tmp_path, world=world)
    await define_concept(kb, "Yrsa Vane", "character", "High Jarl of the Fells.", world=world)
    await record_event(kb, world, "npc.deposed", "The moot cast Yrsa Vane out of the hall.",
                       changes=[ConceptChange("Yrsa Vane", "Deposed by the moot; lives in exile.", {})])
    beats = await beats_of(bus, world)
    await start_node(Lore(kb), Storyteller(seed=3, lore_timeout_s=20))
    await bus.emit(small_map(), world, source="test")
    await bus.emit(PlayerJoined(player_id="ann", name="Ann", region="ford"), world, source="test")
    await eventually(lambda: any("lore:Yrsa Vane" in beat.tags for beat in beats), timeout=60)
    told = [beat.text for beat in beats if "lore:Yrsa Vane" in beat.tags]
    assert all("Deposed by the moot" in text and "High Jarl" not in text for text in told), told
