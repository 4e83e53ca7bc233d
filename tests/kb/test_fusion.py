"""Weighted fusion: a chunk must match more than incidental words for full text to lift it."""

from __future__ import annotations

import pytest

from loreweave.kb.fusion import idf, reciprocal_rank_fusion, text_coverage, weighted_fusion


def test_rare_terms_weigh_more_than_common_ones() -> None:
    assert idf(1, 100) > idf(50, 100) > idf(100, 100) > 0


def test_coverage_is_the_weighted_share_of_query_terms_matched() -> None:
    weights = {"glassworm": 3.0, "give": 0.5, "hand": 0.5}
    assert text_coverage(["glassworm"], weights) == pytest.approx(0.75)
    assert text_coverage(["give", "give"], weights) == pytest.approx(0.125)
    assert text_coverage([], weights) == 0.0
    assert text_coverage(["x"], {}) == 0.0


def test_an_incidental_word_match_does_not_outrank_the_nearest_passage() -> None:
    # 1 is the nearest by meaning and shares no word; 2 is far but shares one common word.
    similarity = {1: 0.62, 2: 0.30, 3: 0.25}
    coverage = {2: 0.12}
    assert [item for item, _ in weighted_fusion(similarity, coverage)][0] == 1
    # Plain reciprocal rank fusion puts the chunk found by both lists first: the old defect.
    assert reciprocal_rank_fusion([[1, 3, 2], [2]])[0][0] == 2


def test_a_passage_sharing_the_questions_rare_name_is_lifted() -> None:
    similarity = {1: 0.55, 2: 0.50, 3: 0.10}
    coverage = {2: 0.8}
    assert [item for item, _ in weighted_fusion(similarity, coverage)] == [2, 1, 3]


def test_equal_similarities_and_empty_input() -> None:
    assert weighted_fusion({}, {}) == []
    assert [item for item, _ in weighted_fusion({4: 0.5, 3: 0.5}, {})] == [3, 4]
    with pytest.raises(ValueError, match="vector_weight"):
        weighted_fusion({1: 0.5}, {}, vector_weight=2.0)
