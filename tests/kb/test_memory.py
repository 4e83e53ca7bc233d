"""Memory retrieval as in Generative Agents: recency + importance + relevance (relevance normalised)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loreweave.kb import (
    STORYTELLER,
    KnowledgeBase,
    KnowledgeBaseError,
    RecallWeights,
    UnknownWorldError,
    forget,
    recall,
    remember,
)

T0 = datetime(2042, 3, 1, 12, 0, tzinfo=UTC)
ONLY_RELEVANCE = RecallWeights(recency=0, importance=0, relevance=1)


async def test_relevance_ranks_memories_about_the_query_first(kb: KnowledgeBase, world: str) -> None:
    await remember(kb, world, "npc-ada", "I sold three eels at the dawn market.", at=T0)
    await remember(kb, world, "npc-ada", "A knight in a green cloak threatened my brother.", at=T0)
    await remember(kb, world, "npc-ada", "It rained all afternoon on the harbour.", at=T0)
    found = await recall(kb, world, "npc-ada", "Who threatened my family?", k=3, now=T0, weights=ONLY_RELEVANCE)
    assert found[0].memory.text == "A knight in a green cloak threatened my brother."
    assert found[0].relevance == 1.0 and found[-1].relevance == 0.0


async def test_recency_decays_exponentially_since_last_access(kb: KnowledgeBase, world: str) -> None:
    old = await remember(kb, world, "npc-bo", "The bell tower was repainted.", at=T0 - timedelta(hours=200))
    new = await remember(kb, world, "npc-bo", "Masons patched the bell tower roof.", at=T0 - timedelta(hours=1))
    mid = await remember(kb, world, "npc-bo", "A crow nests in the bell tower.", at=T0 - timedelta(hours=100))
    found = await recall(
        kb, world, "npc-bo", "bell tower", k=3, now=T0, weights=RecallWeights(1, 0, 0), touch=False
    )
    assert [item.memory.id for item in found] == [new.id, mid.id, old.id]
    # 0.995**hours, not min-max normalised: over a short conversation that would stretch
    # seconds into the whole 0-1 range and let the memory just recalled win every time.
    assert found[1].recency == pytest.approx(0.995**100, rel=1e-6)
    assert found[0].recency == pytest.approx(0.995**1, rel=1e-6)


async def test_importance_outweighs_a_slightly_better_match(kb: KnowledgeBase, world: str) -> None:
    trivial = await remember(kb, world, "npc-cy", "I had bread for breakfast.", importance=1, at=T0)
    grave = await remember(kb, world, "npc-cy", "My mother died the morning of the flood.", importance=10, at=T0)
    await remember(kb, world, "npc-cy", "Quadratic equations have two roots.", importance=5, at=T0)
    query = "what did I have for breakfast this morning"
    by_relevance = await recall(kb, world, "npc-cy", query, k=3, now=T0, weights=ONLY_RELEVANCE)
    assert [item.memory.id for item in by_relevance[:2]] == [trivial.id, grave.id]
    found = await recall(kb, world, "npc-cy", query, k=3, now=T0, weights=RecallWeights(1, 1, 1))
    assert found[0].memory.id == grave.id
    assert (found[0].importance, found[0].recency) == (1.0, 1.0)
    assert found[0].score == pytest.approx(2 + found[0].relevance) and found[0].score > found[1].score


async def test_reading_a_memory_refreshes_its_access_time(kb: KnowledgeBase, world: str) -> None:
    stored = await remember(kb, world, STORYTELLER, "The Covenant burned the granary.", at=T0)
    later = T0 + timedelta(days=3)
    (found,) = await recall(kb, world, STORYTELLER, "granary", k=1, now=later)
    assert found.memory.last_accessed_at == later
    stamp = await kb.pool.fetchval("SELECT last_accessed_at FROM kb_memories WHERE id = $1", stored.id)
    assert stamp == later
    created = await kb.pool.fetchval("SELECT created_at FROM kb_memories WHERE id = $1", stored.id)
    assert created == T0


async def test_a_recently_recalled_memory_beats_an_equal_forgotten_one(kb: KnowledgeBase, world: str) -> None:
    first = await remember(kb, world, "npc-di", "The ferryman owes me two bell-marks.", at=T0)
    second = await remember(kb, world, "npc-di", "I lent the ferryman money last spring.", at=T0)
    await kb.pool.execute("UPDATE kb_memories SET last_accessed_at = $2 WHERE id = $1", first.id, T0 + timedelta(hours=50))
    found = await recall(kb, world, "npc-di", "ferryman debt", k=2, now=T0 + timedelta(hours=60), weights=RecallWeights(1, 0, 0))
    assert found[0].memory.id == first.id and found[1].memory.id == second.id


async def test_owners_and_worlds_do_not_share_memories(kb: KnowledgeBase, world: str) -> None:
    await remember(kb, world, "npc-ed", "I hid the key under the stairs.", at=T0)
    assert await recall(kb, world, "npc-fay", "key", now=T0) == []
    assert await forget(kb, world, "npc-ed") == 1
    assert await recall(kb, world, "npc-ed", "key", now=T0) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"importance": 0}, "importance"),
        ({"importance": 11}, "importance"),
        ({"owner": ""}, "owner"),
    ],
)
async def test_bad_memories_are_refused_by_field(kb: KnowledgeBase, world: str, kwargs: dict, field: str) -> None:
    args = {"owner": "npc-gus", "text": "Fine.", **kwargs}
    with pytest.raises(KnowledgeBaseError) as caught:
        await remember(kb, world, args.pop("owner"), args.pop("text"), **args)
    assert caught.value.field == field


async def test_recall_refuses_an_empty_query_and_an_unknown_world(kb: KnowledgeBase, world: str) -> None:
    await remember(kb, world, "npc-hal", "Something.", at=T0)
    with pytest.raises(KnowledgeBaseError, match="query: is empty"):
        await recall(kb, world, "npc-hal", " ")
    with pytest.raises(UnknownWorldError):
        await recall(kb, "never-seen-" + world, "npc-hal", "anything")
