"""Retrieval quality on a labelled question set: recall@1/@k, MRR, latency, by kind of question.

A question set is a YAML file ``{world, questions: [{q, answers: [{doc, heading}], kind?, world?}]}``.
``kind`` is one of :data:`KINDS` (default ``lexical``); ``world`` overrides the file's world for
one question, so a set can ask the same question in two worlds (a scope check).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from loreweave.kb.chunking import split_text
from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.fusion import Fusion
from loreweave.kb.search import Method, search
from loreweave.kb.sources import discover, read_source
from loreweave.kb.store import KnowledgeBase

#: Depth over which the reciprocal rank is taken (MRR@10).
MRR_DEPTH = 10
#: Kinds of question: own words, no shared content word, a misleading keyword, a world check.
KINDS = ("lexical", "paraphrase", "trap", "scope")
#: A folder of this name in a corpus of worlds holds global lore.
GLOBAL_DIR = "_global"

_WORD = re.compile(r"[a-z0-9]{2,}")
# Function words, and words every question or lore passage uses without meaning much.
_STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being between both but by can
    could did do does doing each for from had has have he her here him his how i if in into is it
    its just may me might more most must my no nor not now of on once one only or other our out
    over own same she should so some such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who whom why
    will with would you your yet""".split()
)
_SUFFIXES = ("ings", "ing", "edly", "ed", "es", "s", "ly", "er", "ers", "est")


@dataclass(frozen=True, slots=True)
class Question:
    """A question, the chunks (document source, heading) that answer it, its kind and world.

    ``world`` None means the set's world (see :func:`load_questions`).
    """

    text: str
    answers: frozenset[tuple[str, str]]
    kind: str = "lexical"
    world: str | None = None


@dataclass(slots=True)
class MethodScore:
    """How one search method did on a question set (``k`` is the recall depth)."""

    method: str
    k: int
    recall_at_1: float
    recall_at_k: float
    mrr: float
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    by_kind: dict[str, float] = field(default_factory=dict)
    leaks: int = 0

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
    """Read a question set: its world and its questions (each with its own world filled in).

    Raises:
        KnowledgeBaseError: the file is missing or malformed, or a kind is unknown.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        world = str(data["world"])
        questions = [
            Question(
                text=str(item["q"]),
                answers=frozenset((str(a["doc"]), str(a["heading"])) for a in item["answers"]),
                kind=str(item.get("kind", "lexical")),
                world=str(item.get("world", world)),
            )
            for item in data["questions"]
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise KnowledgeBaseError("path", f"{path} is not a question set: {exc!r}") from None
    for question in questions:
        if question.kind not in KINDS:
            raise KnowledgeBaseError("kind", f"{question.kind!r} of {question.text!r} is not one of {', '.join(KINDS)}")
    return world, questions


def _lore_roots(root: Path) -> list[Path]:
    """The folders whose files are keyed separately: each world folder of a corpus, or ``root``."""
    worlds = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    return worlds or [root]


def chunk_texts(root: Path) -> dict[tuple[str, str], str]:
    """Every (document source, heading) under ``root`` and its text with the heading path."""
    texts: dict[tuple[str, str], str] = {}
    for folder in _lore_roots(root):
        for file, key in discover(folder):
            for chunk in split_text(read_source(file, key).text):
                label = (key, chunk.heading)
                texts[label] = texts.get(label, "") + "\n" + chunk.embedding_text()
    return texts


def missing_labels(questions: list[Question], root: Path) -> list[str]:
    """Labels naming a (document, heading) that the documents under ``root`` do not have."""
    known = chunk_texts(root)
    return sorted(
        f"{doc} / {heading} ({question.text})"
        for question in questions
        for doc, heading in question.answers
        if (doc, heading) not in known
    )


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:5]


def content_stems(text: str) -> set[str]:
    """Crude stems (suffix stripped, first five letters) of the content words of ``text``."""
    return {_stem(word) for word in _WORD.findall(text.lower().replace("-", " ")) if word not in _STOPWORDS}


def shared_content_words(question: str, passages: Iterable[str]) -> set[str]:
    """Content words of ``question`` whose stem also occurs in any of ``passages``."""
    passage_stems: set[str] = set()
    for passage in passages:
        passage_stems |= content_stems(passage)
    return {
        word
        for word in _WORD.findall(question.lower().replace("-", " "))
        if word not in _STOPWORDS and _stem(word) in passage_stems
    }


async def evaluate(
    kb: KnowledgeBase,
    questions: list[Question],
    *,
    world: str | None = None,
    method: Method,
    k: int = 5,
    fusion: Fusion = "weighted",
) -> MethodScore:
    """Run every question through :func:`search` and score the hits against the labels.

    Each question is asked in its own world, else in ``world``. A hit from a world other
    than the question's (or global lore) counts as a leak.
    """
    found, first, reciprocal, latencies, misses, leaks = 0, 0, 0.0, [], [], 0
    kind_total: dict[str, int] = {}
    kind_found: dict[str, int] = {}
    for question in questions:
        scope = question.world or world
        started = time.perf_counter()
        hits = await search(kb, question.text, world=scope, k=max(k, MRR_DEPTH), method=method, fusion=fusion)
        latencies.append((time.perf_counter() - started) * 1000)
        leaks += sum(1 for hit in hits if hit.world not in (None, scope))
        ranks = [i for i, hit in enumerate(hits, start=1) if (hit.source, hit.heading) in question.answers]
        kind_total[question.kind] = kind_total.get(question.kind, 0) + 1
        if ranks and ranks[0] <= k:
            found += 1
            kind_found[question.kind] = kind_found.get(question.kind, 0) + 1
        else:
            misses.append(f"[{question.kind}] {question.text}")
        if ranks and ranks[0] == 1:
            first += 1
        if ranks:
            reciprocal += 1.0 / ranks[0]
    total = len(questions)
    by_kind = {kind: kind_found.get(kind, 0) / kind_total[kind] for kind in KINDS if kind in kind_total}
    return MethodScore(method, k, first / total, found / total, reciprocal / total, latencies, misses, by_kind, leaks)
