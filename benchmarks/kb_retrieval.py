"""Retrieval benchmark of the knowledge base on the sample world's labelled questions.

Prints recall@5 and MRR@10 for vector-only, full-text-only and hybrid search, and the
p50/p99 latency of each (query embedding + SQL). Uses LOREWEAVE_DATABASE_URL, or a
throwaway embedded PostgreSQL.

    .venv/bin/python benchmarks/kb_retrieval.py [--questions PATH] [--k 5] [--repeat 3]
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
from pathlib import Path

import asyncpg

from loreweave.db import create_pool, migrate
from loreweave.embedded.postgres import EmbeddedPostgres
from loreweave.kb import KnowledgeBase, default_embedder, ingest_path, search
from loreweave.kb.evaluate import MethodScore, evaluate, load_questions

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUESTIONS = ROOT / "examples" / "worlds" / "thornwake" / "questions.yaml"


async def _bench(dsn: str, questions_path: Path, k: int, repeat: int) -> list[MethodScore]:
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(dsn)
    await admin.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        await migrate(dsn, schema=schema)
        pool = await create_pool(dsn, schema=schema, min_size=1, max_size=2)
        kb = KnowledgeBase(pool, default_embedder())
        world, questions = load_questions(questions_path)
        started = time.perf_counter()
        report = await ingest_path(kb, questions_path.parent, world=world)
        print(f"ingested {len(report.added)} documents, {report.chunks_written} chunks "
              f"in {time.perf_counter() - started:.1f}s (model load included)")
        await search(kb, "warm up", world=world)  # first-query costs are not latency
        scores = []
        for method in ("vector", "text", "hybrid"):
            runs = [await evaluate(kb, questions, world=world, method=method, k=k) for _ in range(repeat)]
            best = runs[0]
            best.latencies_ms = [ms for run in runs for ms in run.latencies_ms]
            scores.append(best)
        await pool.close()
        return scores
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions (latency samples)")
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
        _, questions = load_questions(args.questions)
        scores = await _bench(dsn, args.questions, args.k, args.repeat)
    finally:
        if server is not None:
            await server.stop()
        if data is not None:
            shutil.rmtree(data, ignore_errors=True)
    print(f"{len(questions)} questions, k={args.k}, MRR over the top 10, {args.repeat} passes for latency")
    print(f"{'method':<8} {'recall@' + str(args.k):>9} {'MRR':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for score in scores:
        print(f"{score.method:<8} {score.recall_at_k:>9.3f} {score.mrr:>7.3f} {score.p50_ms:>8.1f} {score.p99_ms:>8.1f}")
    for score in scores:
        for miss in score.misses:
            print(f"  {score.method} missed: {miss}")
    hybrid = next(s for s in scores if s.method == "hybrid")
    return 0 if hybrid.recall_at_k >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
