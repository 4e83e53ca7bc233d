"""The simulated game server as a process of its own: plays one session, prints its report as JSON.

    LOREWEAVE_NATS_URL=... python -m loreweave.simulate.server_process --players 200 --seconds 15

The URL comes from the environment (it may hold a password: never on a command line). The
last line of output is one JSON object: the :class:`SimulationReport` (``as_dict``) with the
process's own CPU seconds (``cpu_s``) and wall seconds (``wall_s``) added, so a benchmark can
tell whether the game server, rather than the actors, was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import sys
import time
from typing import Any, Sequence

from loreweave.actors.runtime.process import tune_gc
from loreweave.simulate.runner import simulate


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _finite(value: Any) -> Any:
    """JSON has no NaN: an empty percentile becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


async def play(args: argparse.Namespace) -> dict[str, Any]:
    """Play one session as the arguments say; the report with ``cpu_s`` and ``wall_s``."""
    url = os.environ.get("LOREWEAVE_NATS_URL", "")
    if not url:
        raise SystemExit("server_process: LOREWEAVE_NATS_URL is not set")
    started, cpu = time.perf_counter(), _cpu_s()
    report = await simulate(
        url, args.players, args.seconds / 60, args.seed, progress=False, clock_speed=args.clock_speed,
        think_s=args.think, settle_s=args.settle, handled_wait_s=0, ready_wait_s=args.ready_wait,
    )
    data = report.as_dict()
    data.update(cpu_s=round(_cpu_s() - cpu, 3), wall_s=round(time.perf_counter() - started, 3))
    return _finite(data)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments, play, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=15.0, help="Real seconds of play.")
    parser.add_argument("--think", type=float, default=1.0, help="Mean seconds between a player's actions.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clock-speed", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=0.5, help="Seconds to wait for the last reactions.")
    parser.add_argument("--ready-wait", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        import uvloop  # the game server should cost as little CPU as it can
    except ImportError:  # pragma: no cover - uvloop is optional
        uvloop = None
    runner = uvloop.run if uvloop is not None else asyncio.run
    # The game server times every reaction it sees: a collector pause of its own (31 ms with
    # CPython's default thresholds at 600 players) would be counted as the actors' latency.
    tune_gc()
    print(json.dumps(runner(play(args))), flush=True)


if __name__ == "__main__":
    main()
