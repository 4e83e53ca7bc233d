"""Retrieval quality on a labelled question set: recall@k, MRR and search latency."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from loreweave.kb.chunking import split_text
from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.search import Method, search
from loreweave.kb.sources import discover, read_source
from loreweave.kb.store import KnowledgeBase

#: Depth over which the reciprocal rank is taken (MRR@10).
MRR_DEPTH = 10


@dataclass(frozen=True, slots=True)
class Question:
    """A question and the chunks (document source, heading) that answer it."""

    text: str
    answers: frozenset[tuple[str, str]]


@dataclass(slots=True)
class MethodScore:
    """How one search method did on a question set."""

    method: str
    k: int
    recall_at_k: float
    mrr: float
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        """Median search latency."""
        return statistics.median(self.latencies_ms)

    @property
    def p99_ms(self) -> float:
        """99th percentile search latency (nearest rank)."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


def load_questions(path: Path) -> tuple[str, list[Question]]:
    """Read a ``questions.yaml``: its world and its questions.

    Raises:
        KnowledgeBaseError: the file is missing or malformed.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        questions = [
            Question(
                text=str(item["q"]),
                answers=frozenset((str(a["doc"]), str(a["heading"])) for a in item["answers"]),
            )
            for item in data["questions"]
        ]
        return str(data["world"]), questions
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise KnowledgeBaseError("path", f"{path} is not a question set: {exc!r}") from None


def missing_labels(questions: list[Question], root: Path) -> list[str]:
    """Labels naming a (document, heading) that the documents under ``root`` do not have."""
    known = {
        (key, chunk.heading)
        for file, key in discover(root)
        for chunk in split_text(read_source(file, key).text)
    }
    return sorted(
        f"{doc} / {heading} ({question.text})"
        for question in questions
        for doc, heading in question.answers
        if (doc, heading) not in known
    )


async def evaluate(
    kb: KnowledgeBase, questions: list[Question], *, world: str, method: Method, k: int = 5
) -> MethodScore:
    """Run every question through :func:`search` and score the hits against the labels."""
    found, reciprocal, latencies, misses = 0, 0.0, [], []
    for question in questions:
        started = time.perf_counter()
        hits = await search(kb, question.text, world=world, k=max(k, MRR_DEPTH), method=method)
        latencies.append((time.perf_counter() - started) * 1000)
        ranks = [i for i, hit in enumerate(hits, start=1) if (hit.source, hit.heading) in question.answers]
        if ranks and ranks[0] <= k:
            found += 1
        else:
            misses.append(question.text)
        if ranks:
            reciprocal += 1.0 / ranks[0]
    total = len(questions)
    return MethodScore(method, k, found / total, reciprocal / total, latencies, misses)
