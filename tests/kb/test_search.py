"""Hybrid search on the real database: scoping, methods, scores, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from loreweave.kb import (
    KnowledgeBase,
    KnowledgeBaseError,
    UnknownWorldError,
    ingest_path,
    reciprocal_rank_fusion,
    search,
)
from loreweave.kb.search import text_query
from tests.kb.conftest import SAMPLE_WORLD


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [4, 2, 5]], k=60)
    assert [item for item, _ in fused] == [2, 1, 4, 3, 5]  # ties by id
    assert fused[0][1] == pytest.approx(2 / 62)


def test_text_query_keeps_only_words_joined_by_or() -> None:
    assert text_query("Who's the 'Iron Heron' & (why)?!") == "who | s | the | iron | heron | why"
    assert text_query("!!! ???") == ""


@pytest.mark.parametrize(
    ("query", "source", "heading"),
    [
        ("Who is the Lord Commander called the Iron Heron?", "order-of-the-drowned-bell.md", "The Lord Commander"),
        ("How many tide-pennies is a bell-mark worth?", "trade-and-coin.md", "Currency"),
        ("salt-crusted guard dogs bred by House Scarrow", "bestiary.md", "Brinehound"),
    ],
)
async def test_each_method_finds_the_answering_chunk_first(
    sample_kb: KnowledgeBase, query: str, source: str, heading: str
) -> None:
    for method in ("hybrid", "vector", "text"):
        hits = await search(sample_kb, query, world=SAMPLE_WORLD, k=3, method=method)
        assert (hits[0].source, hits[0].heading) == (source, heading), method


async def test_hits_carry_their_source_scores_and_ranks(sample_kb: KnowledgeBase) -> None:
    hits = await search(sample_kb, "Who founded the Lantern Guild?", world=SAMPLE_WORLD, k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = hits[0]
    assert top.source == "lantern-guild.md" and top.title == "The Lantern Guild"
    assert top.world == SAMPLE_WORLD and "Merrin Wick" in top.text
    assert top.vector_rank is not None and top.text_rank is not None
    assert 0 < top.score <= 1  # weighted fusion: normalised similarity and text coverage
    rrf = await search(sample_kb, "Who founded the Lantern Guild?", world=SAMPLE_WORLD, k=1, fusion="rrf")
    assert rrf[0].vector_rank is not None and rrf[0].text_rank is not None
    assert rrf[0].score == pytest.approx(1 / (60 + rrf[0].vector_rank) + 1 / (60 + rrf[0].text_rank))
    assert top.to_dict()["heading_path"] == ["The Lantern Guild", "Origins and Charter"]


async def test_a_world_sees_its_lore_and_global_lore_but_not_other_worlds(
    isolated_kb: KnowledgeBase, tmp_path: Path
) -> None:
    for name, text in {
        "north/ice.md": "# Ice\n\nThe glacier wyrm Hrimfax sleeps under the northern ice.",
        "south/sand.md": "# Sand\n\nThe sand wyrm Ozzoth burrows beneath the southern dunes.",
        "global/wyrms.md": "# Wyrms\n\nAll wyrms hatch from eggs of black glass.",
    }.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    await ingest_path(isolated_kb, tmp_path / "north", world="north")
    await ingest_path(isolated_kb, tmp_path / "south", world="south")
    await ingest_path(isolated_kb, tmp_path / "global")
    for method in ("hybrid", "vector", "text"):
        north = await search(isolated_kb, "wyrm", world="north", k=10, method=method)
        assert {(h.source, h.world) for h in north} == {("ice.md", "north"), ("wyrms.md", None)}, method
        everywhere = await search(isolated_kb, "wyrm", k=10, method=method)
        assert {(h.source, h.world) for h in everywhere} == {("wyrms.md", None)}, method


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "   \n\t"}, "query"),
        ({"query": "x" * 1001}, "query"),
        ({"query": "bells", "k": 0}, "k"),
        ({"query": "bells", "k": 51}, "k"),
        ({"query": "bells", "method": "magic"}, "method"),
        ({"query": "bells", "fusion": "average"}, "fusion"),
        ({"query": "bells", "world": "bad world!"}, "world"),
    ],
)
async def test_bad_input_is_refused_by_field(sample_kb: KnowledgeBase, kwargs: dict, field: str) -> None:
    query = kwargs.pop("query")
    with pytest.raises(KnowledgeBaseError) as caught:
        await search(sample_kb, query, **{"world": SAMPLE_WORLD, **kwargs})
    assert caught.value.field == field


async def test_an_unknown_world_is_refused(sample_kb: KnowledgeBase) -> None:
    with pytest.raises(UnknownWorldError, match="unknown world 'atlantis'"):
        await search(sample_kb, "bells", world="atlantis")


async def test_a_query_of_stop_words_still_answers_by_vector(sample_kb: KnowledgeBase) -> None:
    assert await search(sample_kb, "who is the", world=SAMPLE_WORLD, method="text") == []
    assert len(await search(sample_kb, "who is the", world=SAMPLE_WORLD, k=3)) == 3
