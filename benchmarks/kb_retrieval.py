"""Retrieval benchmark of the knowledge base: vector, full text and hybrid search, by kind of question.

Ingests two corpora into one database: ``benchmarks/data/kb_eval`` (two worlds and global lore,
written apart from the sample world; a development and a held-out question set) and the sample
worlds of ``examples/worlds``. For each question set and method it prints R@1, R@k, MRR@10,
p50/p99 latency (query embedding + SQL), recall by kind of question (lexical, paraphrase, trap,
scope) and leaks (hits from a world out of scope). ``hybrid-rrf`` is the previous fusion
(plain reciprocal rank over an OR text query), measured in the same run as the baseline.

A last section crowds a table with near-duplicate chunks of 60 worlds and asks a quiet world,
whose chunks are further from the queries, for k rows: how often the HNSW index alone (the former
search) came back short, and what the exact-scan fallback of :func:`search` costs, with the
planner left alone and with it pushed onto the index (as a generic plan or stale statistics do).

Uses LOREWEAVE_DATABASE_URL, or a throwaway embedded PostgreSQL.

    .venv/bin/python benchmarks/kb_retrieval.py [--k 5] [--repeat 1] [--misses]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import numpy as np

from loreweave.db import create_pool, migrate
from loreweave.embedded.postgres import EmbeddedPostgres
from loreweave.kb import KnowledgeBase, default_embedder, ingest_sample_worlds, search
from loreweave.kb.evaluate import KINDS, MethodScore, Question, evaluate, load_questions
from loreweave.kb.search import EF_SEARCH, FUSIONS

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT / "benchmarks" / "data" / "kb_eval"
SAMPLE_DIR = ROOT / "examples" / "worlds"
#: (label, corpus root, question file)
QUESTION_SETS = (
    ("eval-dev", EVAL_DIR, EVAL_DIR / "questions.yaml"),
    ("eval-heldout", EVAL_DIR, EVAL_DIR / "heldout.yaml"),
    ("sample", SAMPLE_DIR, SAMPLE_DIR / "thornwake" / "questions.yaml"),
)
#: Methods measured, with the fusion each uses; the last is the baseline.
METHODS: tuple[tuple[str, str, str], ...] = (
    ("vector", "vector", FUSIONS[0]),
    ("text", "text", FUSIONS[0]),
    ("hybrid", "hybrid", FUSIONS[0]),
    ("hybrid-rrf", "hybrid", "rrf"),
)


@dataclass
class SetResult:
    """Scores of every method on one question set."""

    label: str
    questions: int
    scores: list[MethodScore]


async def _score(
    kb: KnowledgeBase, questions: list[Question], world: str, name: str, method: str, fusion: str, k: int, repeat: int
) -> MethodScore:
    runs = [
        await evaluate(kb, questions, world=world, method=method, k=k, fusion=fusion)  # type: ignore[arg-type]
        for _ in range(repeat)
    ]
    best = runs[0]
    best.method = name
    best.latencies_ms = [ms for run in runs for ms in run.latencies_ms]
    return best


async def _bench(dsn: str, k: int, repeat: int) -> list[SetResult]:
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(dsn)
    await admin.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        await migrate(dsn, schema=schema)
        pool = await create_pool(dsn, schema=schema, min_size=1, max_size=2)
        kb = KnowledgeBase(pool, default_embedder())
        started = time.perf_counter()
        chunks = 0
        for root in dict.fromkeys(root for _, root, _ in QUESTION_SETS):
            chunks += sum(report.chunks_written for report in await ingest_sample_worlds(kb, root))
        print(f"ingested {chunks} chunks in {time.perf_counter() - started:.1f}s (model load included)")
        await search(kb, "warm up")  # first-query costs are not latency
        results = []
        for label, _, path in QUESTION_SETS:
            world, questions = load_questions(path)
            scores = [
                await _score(kb, questions, world, name, method, fusion, k, repeat) for name, method, fusion in METHODS
            ]
            results.append(SetResult(label, len(questions), scores))
        await pool.close()
        return results
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


CROWD_WORLDS, CROWD_CHUNKS, QUIET_CHUNKS, CROWD_QUERIES = 60, 20, 8, 50


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


async def _crowded(dsn: str, k: int) -> list[str]:
    """Lines reporting filtered search in a crowded table (see the module docstring)."""
    schema = "crowd_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    lines = [f"crowded: {CROWD_WORLDS} worlds x {CROWD_CHUNKS} near-duplicate chunks, a quiet world of "
             f"{QUIET_CHUNKS}; {CROWD_QUERIES} queries for k={k} in the quiet world, ef_search {EF_SEARCH}"]
    try:
        await migrate(dsn, schema=schema)
        rng = np.random.default_rng(11)
        centre, aside = _unit(rng.normal(size=384)), _unit(rng.normal(size=384))
        setup_pool = await create_pool(dsn, schema=schema, min_size=1, max_size=1)
        rows = []
        for world in [f"crowd{i:02d}" for i in range(CROWD_WORLDS)] + ["quiet"]:
            await setup_pool.execute("INSERT INTO kb_worlds (id) VALUES ($1)", world)
            document = await setup_pool.fetchval(
                "INSERT INTO kb_documents (world_id, source, title, content_hash, pipeline, size_bytes)"
                " VALUES ($1, 'lore.md', 'Lore', 'h', 'p', 1) RETURNING id", world)
            for ordinal in range(QUIET_CHUNKS if world == "quiet" else CROWD_CHUNKS):
                noise = rng.normal(scale=0.02, size=384)
                vector = _unit(0.8 * centre + 0.6 * aside + noise) if world == "quiet" else _unit(centre + noise)
                rows.append((document, world, ordinal, f"{world} {ordinal}", vector))
        await setup_pool.executemany(
            "INSERT INTO kb_chunks (document_id, world_id, ordinal, heading, heading_path, body, embedding, tsv)"
            " VALUES ($1, $2, $3, $4, ARRAY[$4], $4, $5, to_tsvector('english', $4))", rows)
        await setup_pool.execute("ANALYZE kb_chunks")
        await setup_pool.close()
        queries = [_unit(centre + rng.normal(scale=0.02, size=384)) for _ in range(CROWD_QUERIES)]

        async def prefer_index(conn: asyncpg.Connection) -> None:
            await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")

        for label, setup in (("planner free", None), ("index forced", prefer_index)):
            pool = await create_pool(dsn, schema=schema, min_size=1, max_size=1, setup=setup)
            kb = KnowledgeBase(pool, default_embedder())
            short = empty = 0
            index_ms, search_ms, returned = [], [], []
            for query in queries:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
                    started = time.perf_counter()
                    found = await conn.fetch(
                        "SELECT id FROM kb_chunks WHERE world_id IS NULL OR world_id = $2"
                        " ORDER BY embedding <=> $1 LIMIT $3", query, "quiet", k)
                    index_ms.append((time.perf_counter() - started) * 1000)
                short += len(found) < k
                empty += not found
                started = time.perf_counter()
                hits = await search(kb, "quiet", world="quiet", k=k, method="vector", query_vector=query)
                search_ms.append((time.perf_counter() - started) * 1000)
                returned.append(len(hits))
            await pool.close()
            index_p50, search_p50 = float(np.median(index_ms)), float(np.median(search_ms))
            lines.append(
                f"  {label}: index alone short {short}/{CROWD_QUERIES} (empty {empty}); search returned {k} rows "
                f"{sum(n == k for n in returned)}/{CROWD_QUERIES}; p50 ms index alone {index_p50:.2f}, "
                f"search {search_p50:.2f} (ratio {search_p50 / index_p50:.1f})"
            )
        return lines
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


def _print(results: list[SetResult], k: int, repeat: int, show_misses: bool) -> None:
    print(f"k={k}, MRR over the top 10, {repeat} pass(es) for latency")
    for result in results:
        print(f"\n{result.label}: {result.questions} questions")
        kinds = [kind for kind in KINDS if kind in result.scores[0].by_kind]
        header = f"{'method':<11} {'R@1':>6} {'R@' + str(k):>6} {'MRR':>6} {'p50 ms':>7} {'p99 ms':>7} {'leaks':>5}"
        print(header + "".join(f" {kind[:10]:>10}" for kind in kinds))
        for s in result.scores:
            row = (f"{s.method:<11} {s.recall_at_1:>6.3f} {s.recall_at_k:>6.3f} {s.mrr:>6.3f} "
                   f"{s.p50_ms:>7.1f} {s.p99_ms:>7.1f} {s.leaks:>5}")
            print(row + "".join(f" {s.by_kind[kind]:>10.3f}" for kind in kinds))
        base = next(s for s in result.scores if s.method == "hybrid-rrf")
        hybrid = next(s for s in result.scores if s.method == "hybrid")
        print(f"hybrid / hybrid-rrf R@{k}: {hybrid.recall_at_k / base.recall_at_k:.2f}")
        if show_misses:
            for s in result.scores:
                for miss in s.misses:
                    print(f"  {s.method} missed: {miss}")


def _meets_bar(results: list[SetResult]) -> bool:
    """Hybrid at least as good as the better single method on every kind; R@k >= 0.95 held out."""
    ok = True
    for result in results:
        scores = {s.method: s for s in result.scores}
        for kind, value in scores["hybrid"].by_kind.items():
            if value + 1e-9 < max(scores["vector"].by_kind[kind], scores["text"].by_kind[kind]):
                print(f"BELOW BAR: {result.label} hybrid on {kind}")
                ok = False
        if result.label == "eval-heldout" and scores["hybrid"].recall_at_k < 0.95:
            print(f"BELOW BAR: {result.label} hybrid R@k {scores['hybrid'].recall_at_k:.3f} < 0.95")
            ok = False
    return ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="passes over the questions (latency samples)")
    parser.add_argument("--misses", action="store_true", help="list the questions each method missed")
    args = parser.parse_args()
    configured = os.environ.get("LOREWEAVE_DATABASE_URL")
    data = None
    server = None
    if configured:
        dsn = configured
    else:
        data = Path(tempfile.mkdtemp(prefix="lw-kb-bench-"))
        server = EmbeddedPostgres(data / "postgres")
        dsn = await server.start()
    try:
        results = await _bench(dsn, args.k, args.repeat)
        crowded = await _crowded(dsn, args.k)
    finally:
        if server is not None:
            await server.stop()
        if data is not None:
            shutil.rmtree(data, ignore_errors=True)
    _print(results, args.k, args.repeat, args.misses)
    print()
    print("\n".join(crowded))
    return 0 if _meets_bar(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
