"""How many concurrent players one actor process serves with p99 reaction latency under 100 ms.

Starts an embedded nats-server and every actor in a child process (``loreweave run --actors all``),
all in a fresh temporary data dir, then plays the world with rising player counts. The simulated
game server runs in a process of its own for each count (``loreweave.simulate.server_process``:
pre-encoded frames, its own frames not echoed back), and its CPU is reported next to the
actors' and the nats-server's, so a run shows whether the game server was the bottleneck.
Each player acts about once per ``--think`` seconds (move, talk, quest, buy) and sends a
heartbeat every 3 s. The reaction latency is from publishing a frame to seeing the first frame
an actor emitted because of it; the game server's requests (quest accept and journal, purchases)
are timed apart, round trip. Stops at the first count over the target.

Each level's figures are appended to ``benchmarks/results/ccu.csv`` under ``--label``, and
``benchmarks/results/ccu.png`` plots p50 and p99 against players for every label there
(a table is printed instead when matplotlib is missing).

    .venv/bin/python benchmarks/ccu.py                       # several minutes
    .venv/bin/python benchmarks/ccu.py --levels 50,100 --seconds 10 --label quick
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loreweave.actors.runtime import Bus, RequestError, frame_for  # noqa: E402
from loreweave.embedded import EmbeddedNats  # noqa: E402
from loreweave.schemas import SettingsGet  # noqa: E402

TARGET_P99_MS = 100.0
RESULTS = REPO / "benchmarks" / "results"
COLUMNS = ("label", "date", "players", "p50_ms", "p95_ms", "p99_ms", "events_per_s", "errors",
           "game_server_cpu", "actors_cpu", "nats_cpu", "box_busy", "postgres_cpu", "request_p50_ms", "request_p99_ms")


@dataclass
class Level:
    """One player count's figures; CPU as fractions of one core over the level's wall time."""

    players: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    events_per_s: float
    errors: int
    game_server_cpu: float
    actors_cpu: float
    nats_cpu: float
    box_busy: float
    postgres_cpu: float
    request_p50_ms: float = math.nan
    request_p99_ms: float = math.nan

    @property
    def game_server_share(self) -> float:
        """The game server's part of the CPU the four (actors, PostgreSQL, nats, game server) used."""
        used = self.game_server_cpu + self.actors_cpu + self.nats_cpu + self.postgres_cpu
        return self.game_server_cpu / used if used else 0.0


class CpuMeter:
    """CPU seconds of a process and its children, less those of ``apart`` (another meter's tree)."""

    def __init__(self, pid: int, apart: CpuMeter | None = None) -> None:
        self.process = psutil.Process(pid)
        self.apart = apart

    def tree(self) -> list[psutil.Process]:
        """The process and its descendants, outside ``apart``'s tree."""
        try:
            procs = [self.process, *self.process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        if self.apart is not None:
            skip = {proc.pid for proc in self.apart.tree()}
            procs = [proc for proc in procs if proc.pid not in skip]
        return procs

    def read(self) -> float:
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.NoSuchProcess:
                continue
        return total


async def wait_for_actors(url: str, timeout_s: float = 60.0) -> None:
    """Wait until the actor process answers requests."""
    bus = await Bus.connect(url, name="ccu-probe")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                await bus.request(frame_for(SettingsGet(), "ccu-probe", "ccu"), 1.0)
                return
            except RequestError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the actor process did not start") from None
                await asyncio.sleep(0.3)
    finally:
        await bus.close()


def postmaster(data_dir: Path) -> int:
    """The pid of the embedded PostgreSQL the actor process started (``postgres/postmaster.pid``)."""
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


async def play_level(env: dict[str, str], args: argparse.Namespace, players: int, actors: CpuMeter,
                     nats: CpuMeter, postgres: CpuMeter) -> Level:
    """Run the game server process for one player count; its report and everyone's CPU."""
    before = (actors.read(), nats.read(), psutil.cpu_times(), postgres.read())
    started = time.perf_counter()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loreweave.simulate.server_process", "--players", str(players),
        "--seconds", str(args.seconds), "--think", str(args.think), "--seed", str(args.seed),
        env=env, cwd=env["LOREWEAVE_DATA_DIR"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await server.communicate()
    wall = time.perf_counter() - started
    box = psutil.cpu_times()
    if server.returncode != 0:
        raise RuntimeError(f"the game server process failed ({server.returncode}): {err.decode()[-2000:]}")
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    busy_before = sum(before[2]) - before[2].idle - getattr(before[2], "iowait", 0.0)
    busy_after = sum(box) - box.idle - getattr(box, "iowait", 0.0)
    cores = psutil.cpu_count() or 1
    latency, requests = report["latency_ms"], report["request_ms"]

    def ms(key: str, figures: dict[str, Any] = latency) -> float:
        return math.nan if figures[key] is None else float(figures[key])

    return Level(
        players=players, p50_ms=ms("p50"), p95_ms=ms("p95"), p99_ms=ms("p99"),
        events_per_s=float(report["events_per_s"]), errors=int(report["errors"]),
        game_server_cpu=report["cpu_s"] / report["wall_s"],
        actors_cpu=(actors.read() - before[0]) / wall, nats_cpu=(nats.read() - before[1]) / wall,
        box_busy=(busy_after - busy_before) / (sum(box) - sum(before[2])) * cores if sum(box) > sum(before[2]) else 0.0,
        postgres_cpu=(postgres.read() - before[3]) / wall,
        request_p50_ms=ms("p50", requests), request_p99_ms=ms("p99", requests),
    )


async def run(args: argparse.Namespace, levels: list[int]) -> list[Level]:
    """Run the levels in order in a fresh data dir, stopping after the first whose p99 misses the target."""
    with tempfile.TemporaryDirectory(prefix="lw-ccu-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats")
        await server.start()
        # A fresh data dir (and working dir): no stream position, snapshot or database of an earlier run.
        env = {**os.environ, "LOREWEAVE_NATS_URL": server.client_url(), "LOREWEAVE_LOG_LEVEL": "WARNING",
               "LOREWEAVE_DATA_DIR": str(Path(tmp) / "data"), "LOREWEAVE_PAYMENTS_PROVIDER": "test",
               "PYTHONPATH": str(REPO)}
        Path(env["LOREWEAVE_DATA_DIR"]).mkdir()
        actors = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loreweave", "run", "--actors", "all", "--seed", str(args.seed),
            env=env, cwd=env["LOREWEAVE_DATA_DIR"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        results: list[Level] = []
        try:
            await wait_for_actors(server.client_url())
            nats_pid = next(child.pid for child in psutil.Process().children() if "nats-server" in child.name())
            postgres = CpuMeter(postmaster(Path(env["LOREWEAVE_DATA_DIR"])))
            for players in levels:
                level = await play_level(env, args, players, CpuMeter(actors.pid, apart=postgres), CpuMeter(nats_pid),
                                         postgres)
                results.append(level)
                print(f"{players:>5} players: reaction p50 {level.p50_ms:6.1f} ms  p99 {level.p99_ms:7.1f} ms,"
                      f" {level.events_per_s:6.0f} events/s, errors {level.errors};"
                      f" requests p50 {level.request_p50_ms:.0f} / p99 {level.request_p99_ms:.0f} ms;"
                      f" CPU (cores): actors {level.actors_cpu:.2f}, game server {level.game_server_cpu:.2f}"
                      f" ({level.game_server_share:.0%} of the four), nats {level.nats_cpu:.2f},"
                      f" postgres {level.postgres_cpu:.2f},"
                      f" whole box {level.box_busy:.2f} of {psutil.cpu_count()}", flush=True)
                if math.isnan(level.p99_ms) or level.p99_ms >= TARGET_P99_MS:
                    break
        finally:
            actors.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(actors.wait(), 15)
            except TimeoutError:
                actors.kill()
            await server.stop()
        return results


def save(results: list[Level], label: str, directory: Path) -> list[dict[str, str]]:
    """Append this run's levels to ``ccu.csv``; every row in it (this run's and earlier ones)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ccu.csv"
    date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    if path.exists():
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != COLUMNS:  # a file from before a column was added
                earlier = list(reader)
                with path.open("w", newline="") as out:
                    writer = csv.DictWriter(out, COLUMNS, restval="")
                    writer.writeheader()
                    writer.writerows(earlier)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(COLUMNS)
        for r in results:
            writer.writerow([label, date, r.players, f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}", f"{r.p99_ms:.1f}",
                             f"{r.events_per_s:.0f}", r.errors, f"{r.game_server_cpu:.2f}", f"{r.actors_cpu:.2f}",
                             f"{r.nats_cpu:.2f}", f"{r.box_busy:.2f}", f"{r.postgres_cpu:.2f}",
                             f"{r.request_p50_ms:.1f}", f"{r.request_p99_ms:.1f}"])
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def plot(rows: list[dict[str, str]], path: Path) -> bool:
    """p50 and p99 reaction latency against players, one colour per label; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    runs: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        runs.setdefault((row["label"], row["date"]), []).append(row)
    figure, axes = plt.subplots(figsize=(8, 5))
    for index, ((label, date), levels) in enumerate(runs.items()):
        levels.sort(key=lambda row: int(row["players"]))
        players = [int(row["players"]) for row in levels]
        colour = f"C{index % 10}"
        axes.plot(players, [float(row["p99_ms"]) for row in levels], "o-", color=colour, label=f"{label} p99 ({date})")
        axes.plot(players, [float(row["p50_ms"]) for row in levels], "s--", color=colour, label=f"{label} p50")
    axes.axhline(TARGET_P99_MS, color="grey", linestyle=":", label=f"target p99 {TARGET_P99_MS:.0f} ms")
    axes.set_xlabel("concurrent players")
    axes.set_ylabel("reaction latency (ms)")
    axes.set_yscale("log")
    axes.set_title(f"benchmarks/ccu.py on {psutil.cpu_count()} CPUs")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="50,100,200,300,400,600,800,1000,1500,2000",
                        help="Player counts to try, in order.")
    parser.add_argument("--seconds", type=float, default=15.0, help="Real seconds of play per level.")
    parser.add_argument("--think", type=float, default=1.0, help="Mean seconds between a player's actions.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label", default="run", help="Name of this run in ccu.csv and the plot.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="Where ccu.csv and ccu.png go.")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    started = time.monotonic()
    results = asyncio.run(run(args, levels))
    print(f"CCU benchmark ({psutil.cpu_count()} CPUs, {args.seconds:g} s per level, 1 action per {args.think:g} s"
          f" per player), run took {time.monotonic() - started:.0f} s")
    print(f"{'players':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'events/s':>9} {'game server CPU':>16}"
          f" {'request p50/p99 ms':>19}")
    for r in results:
        print(f"{r.players:>8} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.p99_ms:>8.1f} {r.events_per_s:>9.0f}"
              f" {r.game_server_cpu:>9.2f} ({r.game_server_share:.0%}) {r.request_p50_ms:>9.0f} / {r.request_p99_ms:<7.0f}")
    passing = [r for r in results if r.p99_ms < TARGET_P99_MS]
    if passing:
        best = max(passing, key=lambda r: r.players)
        print(f"highest player count with p99 < {TARGET_P99_MS:.0f} ms: {best.players} ({best.events_per_s:,.0f} events/s)")
    else:
        print(f"no level kept p99 under {TARGET_P99_MS:.0f} ms")
    rows = save(results, args.label, args.results)
    image = args.results / "ccu.png"
    if plot(rows, image):
        print(f"figures appended to {args.results / 'ccu.csv'}; plot: {image}")
    else:
        print(f"figures appended to {args.results / 'ccu.csv'} (no matplotlib: no plot)")


if __name__ == "__main__":
    main()
