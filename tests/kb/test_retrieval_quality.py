"""Retrieval quality on the sample world's labelled questions (see benchmarks/kb_retrieval.py)."""

from __future__ import annotations

from loreweave.kb import KnowledgeBase
from loreweave.kb.evaluate import evaluate, load_questions, missing_labels
from tests.kb.conftest import SAMPLE_DIR, SAMPLE_WORLD


def test_the_question_set_is_large_and_every_label_names_a_real_chunk() -> None:
    world, questions = load_questions(SAMPLE_DIR / "questions.yaml")
    assert world == SAMPLE_WORLD and len(questions) >= 40
    assert missing_labels(questions, SAMPLE_DIR) == []


def test_the_sample_world_is_large_enough() -> None:
    documents = sorted(SAMPLE_DIR.glob("*.md"))
    assert len(documents) >= 13
    for document in documents:
        words = len(document.read_text(encoding="utf-8").split())
        assert 400 <= words <= 1200, f"{document.name}: {words} words"


async def test_hybrid_search_answers_nine_questions_in_ten_within_five_hits(sample_kb: KnowledgeBase) -> None:
    _, questions = load_questions(SAMPLE_DIR / "questions.yaml")
    score = await evaluate(sample_kb, questions, world=SAMPLE_WORLD, method="hybrid", k=5)
    assert score.recall_at_k >= 0.9, score.misses
    assert score.mrr >= 0.75
