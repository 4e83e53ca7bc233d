"""Concept evolution: versions recorded with the events that caused them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from loreweave.kb import (
    ConceptChange,
    KnowledgeBase,
    KnowledgeBaseError,
    NotFoundError,
    concept_history,
    define_concept,
    import_entries,
    record_event,
)

T0 = datetime(2042, 1, 1, tzinfo=UTC)


async def test_an_event_records_a_new_version_pointing_at_it(kb: KnowledgeBase, world: str) -> None:
    await define_concept(
        kb, "Oren Halloway", "character", "Smuggler captain of the Gilded Eel.",
        world=world, attributes={"alive": True, "ship": "Gilded Eel"}, valid_from=T0,
    )
    recorded = await record_event(
        kb, world, "npc.died", "Oren Halloway drowned when the Gilded Eel struck the glass reef.",
        occurred_at=T0 + timedelta(days=10), story_date="1042 YR, 3 Sable",
        changes=[ConceptChange("oren halloway", "Drowned on the glass reef in 1042 YR.", {"alive": False})],
    )
    history = await concept_history(kb, "OREN HALLOWAY", world=world)
    assert [v.version for v in history.versions] == [1, 2]
    first, second = history.versions
    assert first.event is None and first.attributes == {"alive": True, "ship": "Gilded Eel"}
    assert second.event is not None and second.event.id == recorded.event.id
    assert second.event.story_date == "1042 YR, 3 Sable"
    assert second.attributes == {"alive": False, "ship": "Gilded Eel"}  # merged, not replaced
    assert history.current is second
    assert history.as_of(T0 + timedelta(days=5)) is first
    assert history.as_of(T0 + timedelta(days=11)) is second
    assert history.as_of(T0 - timedelta(days=1)) is None


async def test_a_faction_changing_sides_keeps_its_whole_history(kb: KnowledgeBase, world: str) -> None:
    await define_concept(kb, "House Scarrow", "faction", "Salt-lords bound by the Concord.", world=world,
                         attributes={"allegiance": "Concord"}, valid_from=T0)
    for day, (summary, side) in enumerate([("Scarrow barges sail under Covenant protection.", "Covenant"),
                                           ("Scarrow returns to the Concord after the siege.", "Concord")], 1):
        await record_event(kb, world, "narrative.beat", summary, occurred_at=T0 + timedelta(days=day),
                           changes=[ConceptChange("House Scarrow", summary, {"allegiance": side})])
    history = await concept_history(kb, "House Scarrow", world=world)
    assert [v.attributes["allegiance"] for v in history.versions] == ["Concord", "Covenant", "Concord"]
    assert [v.event.summary if v.event else None for v in history.versions][1:] == [
        "Scarrow barges sail under Covenant protection.", "Scarrow returns to the Concord after the siege."]


async def test_a_change_to_an_unknown_concept_without_kind_records_nothing(kb: KnowledgeBase, world: str) -> None:
    with pytest.raises(NotFoundError, match="Nobody"):
        await record_event(kb, world, "narrative.beat", "Nobody did anything.",
                           changes=[ConceptChange("Nobody", "Still nobody.")])
    assert await kb.pool.fetchval("SELECT count(*) FROM kb_story_events WHERE world_id = $1", world) == 0
    created = await record_event(kb, world, "narrative.beat", "A stranger arrived.",
                                 changes=[ConceptChange("The Stranger", "A hooded traveller.", kind="character")])
    assert created.versions["The Stranger"].version == 1


async def test_journal_entries_become_story_events_once(kb: KnowledgeBase, world: str) -> None:
    entries = [
        SimpleNamespace(frame_id="01J0000000000000000000000A", world=world, type="narrative.beat",
                        ts=T0, payload={"text": "The bells rang at midnight.", "tension": 0.4}),
        SimpleNamespace(frame_id="01J0000000000000000000000B", world=world, type="player.heartbeat",
                        ts=T0, payload={}),
    ]
    assert await import_entries(kb, entries) == 1
    assert await import_entries(kb, entries) == 0
    row = await kb.pool.fetchrow("SELECT kind, summary, journal_id FROM kb_story_events WHERE world_id = $1", world)
    assert tuple(row) == ("narrative.beat", "The bells rang at midnight.", "01J0000000000000000000000A")


async def test_defining_twice_is_refused_unless_allowed(kb: KnowledgeBase, world: str) -> None:
    await define_concept(kb, "Wrack Isle", "place", "A bare rock.", world=world)
    with pytest.raises(KnowledgeBaseError, match="already defined"):
        await define_concept(kb, "wrack isle", "place", "Another.", world=world)
    again = await define_concept(kb, "Wrack Isle", "place", "Another.", world=world, exist_ok=True)
    assert [v.summary for v in again.versions] == ["A bare rock."]


@pytest.mark.parametrize(
    ("name", "kind", "summary", "field"),
    [("", "character", "x", "name"), ("A", "dragon", "x", "kind"), ("A", "item", " ", "summary")],
)
async def test_bad_concepts_are_refused_by_field(
    kb: KnowledgeBase, world: str, name: str, kind: str, summary: str, field: str
) -> None:
    with pytest.raises(KnowledgeBaseError) as caught:
        await define_concept(kb, name, kind, summary, world=world)  # type: ignore[arg-type]
    assert caught.value.field == field


async def test_a_name_in_several_worlds_needs_a_world(isolated_kb: KnowledgeBase) -> None:
    for world in ("east", "west"):
        await define_concept(isolated_kb, "The Oracle", "character", f"The oracle of the {world}.", world=world)
    with pytest.raises(KnowledgeBaseError, match="several worlds"):
        await concept_history(isolated_kb, "The Oracle")
    west = await concept_history(isolated_kb, "The Oracle", world="west")
    assert west.current.summary == "The oracle of the west."
    with pytest.raises(NotFoundError):
        await concept_history(isolated_kb, "The Nobody", world="west")


async def test_the_sample_world_seeds_an_evolved_concept(sample_kb: KnowledgeBase) -> None:
    history = await concept_history(sample_kb, "Lantern of Saint Irri", world="thornwake")
    assert [v.attributes.get("location") for v in history.versions] == ["Hallowmere vaults", "unknown"]
    assert history.current.event is not None and history.current.event.journal_id == "seed-1041-lantern-theft"
