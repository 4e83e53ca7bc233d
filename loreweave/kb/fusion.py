"""How hybrid search merges its vector and full-text candidates: pure functions, no database.

Reciprocal rank fusion (the former default) lets any chunk found by both lists outrank any
chunk found by one, so a chunk sharing one incidental word with a question ("hand", "give")
beat the passage that answered a paraphrased question. :func:`weighted_fusion` instead adds
two scores on one scale:

- the cosine similarity, min-max normalised over the candidates (what the vector list says);
- the text coverage: the share of the question's search terms, weighted by their inverse
  document frequency in scope, that a chunk contains. It counts only when it reaches
  :data:`MIN_TEXT_COVERAGE`, so a chunk must match more than incidental words for full text
  to lift it, while a rare name shared with the question lifts it a lot.

The weights were chosen on a development question set (``benchmarks/data/kb_eval``) and
checked on a held-out one and on the sample world (``benchmarks/kb_retrieval.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, get_args

Fusion = Literal["weighted", "rrf"]
FUSIONS: tuple[str, ...] = get_args(Fusion)
#: The k of reciprocal rank fusion (Cormack et al. 2009): score = sum 1 / (RRF_K + rank).
RRF_K = 60
#: Weight of the normalised vector similarity; full text gets the rest.
VECTOR_WEIGHT = 0.65
#: Least text coverage (IDF-weighted share of the query's terms) that counts at all.
MIN_TEXT_COVERAGE = 0.3


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists: each id scores sum(1 / (k + rank)); best first, ties by id."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def idf(chunks_with_term: int, chunks_in_scope: int) -> float:
    """BM25's inverse document frequency: rare terms weigh more, a term in every chunk almost nothing."""
    n, df = max(chunks_in_scope, 0), max(chunks_with_term, 0)
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def text_coverage(matched: Iterable[str], weights: Mapping[str, float]) -> float:
    """The share (0-1) of the query terms' total weight carried by the terms a chunk ``matched``."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(weights.get(term, 0.0) for term in set(matched)) / total


def weighted_fusion(
    similarity: Mapping[int, float],
    coverage: Mapping[int, float],
    *,
    vector_weight: float = VECTOR_WEIGHT,
    min_coverage: float = MIN_TEXT_COVERAGE,
) -> list[tuple[int, float]]:
    """Fuse candidates by ``vector_weight * norm(similarity) + (1 - vector_weight) * coverage``.

    ``similarity`` holds every candidate's cosine similarity (text candidates included);
    ``coverage`` the text coverage of those full text found. A coverage under
    ``min_coverage`` counts as none. Best first, ties by id.
    """
    if not 0.0 <= vector_weight <= 1.0:
        raise ValueError(f"vector_weight must be within 0 and 1, got {vector_weight}")
    candidates = set(similarity)
    if not candidates:
        return []
    low, high = min(similarity.values()), max(similarity.values())
    spread = high - low
    scores = {}
    for item in candidates:
        vector = (similarity[item] - low) / spread if spread > 1e-12 else 1.0
        text = coverage.get(item, 0.0)
        scores[item] = vector_weight * vector + (1.0 - vector_weight) * (text if text >= min_coverage else 0.0)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
