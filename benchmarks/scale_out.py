"""Scale-out: the same world load on 1, 2 and 4 `loreweave run` processes sharing the worlds.

One run, fresh servers (embedded nats-server and PostgreSQL in a temporary directory):

- for each node count, N node processes of the world-placed game actors start on the bus and
  share the partitions; a game server publishes player frames (joins, then moves) at a fixed
  rate across many worlds, in 50 ms ticks (a tick's frames go out together, their JetStream
  acks awaited once per tick; ``--trickle``: each frame waits for its own ack before the next); the CPU seconds every node process spent while the load ran is read
  from the kernel (psutil) and printed per 1,000 player events, in all and per node;
- ``coordination overhead at 4 nodes`` is the CPU per event at the largest count over the CPU
  per event at one node (leases, heartbeats, frames every node receives and drops by subject);
- failover: one node of the largest count is SIGKILLed; each of its worlds is asked its time
  until a survivor answers (p50 and max over the worlds);
- rebalance: a node joins the largest count; the time until it owns its fair share of the
  partitions and every world answers.

    python benchmarks/scale_out.py                   # 1, 2, 4 nodes, 32 worlds, 300 events/s
    python benchmarks/scale_out.py --nodes 1,2 --seconds 10

A 2-core box runs every process on the same two cores: the CPU figures are what each node
spent, whatever waited; the ratio is what this measures.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import psutil

from loreweave.actors.runtime import Bus, frame_for
from loreweave.actors.runtime.placement import DEFAULT_PARTITIONS, partition_of
from loreweave.embedded import EmbeddedNats, EmbeddedPostgres
from loreweave.protocol import frame_headers
from loreweave.schemas import PlayerJoined, PlayerMoved, RegionSpec, WorldOpened
from loreweave.testing import eventually
from loreweave.testing.databases import fresh_database
from loreweave.testing.node import NodeProcess, loreweave_run, node_env
from loreweave.testing.placement import clock_answers, lease_owners, node_id_in_log

#: The world-placed actors each node runs.
ACTORS = ("world", "clock", "players", "weather", "ambience", "qos")
REGIONS = ("ford", "mill", "moor", "keep")


def say(line: str) -> None:
    print(line, flush=True)


class Cluster:
    """Node processes on one bus and database, started and stopped as the benchmark goes."""

    def __init__(self, work: Path, nats_url: str, dsn: str, lease_ttl: int) -> None:
        self.work, self.nats_url, self.dsn, self.lease_ttl = work, nats_url, dsn, lease_ttl
        self.nodes: list[NodeProcess] = []
        self._started = 0

    async def add(self) -> NodeProcess:
        self._started += 1
        name = f"node{self._started}"
        node = NodeProcess(
            loreweave_run(ACTORS),
            node_env(self.nats_url, self.dsn, self.work / name, actor_lease_ttl_s=str(self.lease_ttl),
                     log_level="INFO"),
            log_path=self.work / f"{name}.log",
        )
        await node.start(120)
        self.nodes.append(node)
        return node

    def node_id(self, node: NodeProcess) -> str | None:
        assert node.log_path is not None
        return node_id_in_log(node.log_path)

    async def stop_all(self) -> None:
        await asyncio.gather(*(node.terminate() for node in self.nodes), return_exceptions=True)
        self.nodes = []

    def cpu_seconds(self) -> float:
        total = 0.0
        for node in self.nodes:
            if node.pid is None:
                continue
            try:
                times = psutil.Process(node.pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


async def all_answer(bus: Bus, worlds: list[str]) -> bool:
    results = await asyncio.gather(*(clock_answers(bus, w) for w in worlds))
    return all(results)


async def open_worlds(bus: Bus, worlds: list[str], players: int) -> dict[str, list[str]]:
    regions = [RegionSpec(id=r, name=r.title(), biome="plains") for r in REGIONS]
    roster: dict[str, list[str]] = {}
    for world in worlds:
        await bus.publish(frame_for(WorldOpened(title=world, regions=regions), world, "bench"), durable=True)
        roster[world] = [f"p{i}" for i in range(players)]
        for player in roster[world]:
            await bus.publish(frame_for(PlayerJoined(player_id=player, region=REGIONS[0]), world, "bench"),
                              durable=True)
    return roster


async def load(bus: Bus, roster: dict[str, list[str]], rate: float, seconds: float, *, per_tick: bool = True) -> int:
    """Player moves at ``rate`` per second for ``seconds``, in 50 ms game-server ticks; returns how many were published.

    ``per_tick``: a tick's frames go out together and their JetStream acks are awaited once per
    tick, as a game server sends what a tick produced; else each frame waits for its own ack
    before the next is sent (frames trickle in one at a time).
    """
    worlds = list(roster)
    sent = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    step = 0.05
    while loop.time() - start < seconds:
        due = int((loop.time() - start) * rate)
        acks = []
        while sent < due:
            world = worlds[sent % len(worlds)]
            players = roster[world]
            player = players[(sent // len(worlds)) % len(players)]
            frame = frame_for(PlayerMoved(player_id=player, region=REGIONS[sent % len(REGIONS)]), world, "bench")
            if per_tick:
                acks.append(await bus.js.publish_async(frame.subject, bus.encode(frame), headers=frame_headers(frame)))
            else:
                await bus.publish(frame, durable=True)
            sent += 1
        if acks:
            await asyncio.gather(*acks)  # every frame of the tick is stored before the next tick
        await asyncio.sleep(step)
    return sent


async def owner_ids(bus: Bus) -> dict[int, str]:
    return await lease_owners(bus)


async def settle(bus: Bus, quiet_s: float = 3.0, timeout: float = 60.0) -> float:
    """Wait until no partition changed owner for ``quiet_s``; the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    last = await owner_ids(bus)
    since = loop.time()
    while loop.time() - since < quiet_s and loop.time() - start < timeout:
        await asyncio.sleep(0.5)
        now = await owner_ids(bus)
        if now != last:
            last, since = now, loop.time()
    return loop.time() - start


async def run(args: argparse.Namespace) -> None:
    counts = sorted({int(n) for n in args.nodes.split(",")})
    worlds = [f"w{i:03d}" for i in range(args.worlds)]
    work = Path(tempfile.mkdtemp(prefix="lw-scale-"))
    async with AsyncExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        nats = EmbeddedNats(work / "nats")
        await nats.start()
        stack.push_async_callback(nats.stop)
        postgres = EmbeddedPostgres(work / "postgres")
        server_dsn = await postgres.start()
        stack.push_async_callback(postgres.stop)
        dsn = await stack.enter_async_context(fresh_database(server_dsn, "lw_scale_"))
        bus = await Bus.connect(nats.client_url(), name="scale-out-game-server")
        stack.push_async_callback(bus.close)
        await bus.ensure_streams()
        cluster = Cluster(work, nats.client_url(), dsn, args.lease_ttl)
        stack.push_async_callback(cluster.stop_all)

        say(f"scale-out: {args.worlds} worlds x {args.players} players, {args.rate:g} moves/s for {args.seconds:g}s "
            f"per round ({'one frame per ack' if args.trickle else '50 ms ticks'}), nodes {counts}, "
            f"{DEFAULT_PARTITIONS} partitions, lease TTL {args.lease_ttl}s, "
            f"{psutil.cpu_count()} cores")
        roster: dict[str, list[str]] | None = None
        per_event: dict[int, float] = {}
        say("| nodes | events | CPU s (all nodes) | CPU s / 1k events | CPU s / 1k events / node | idle CPU % of a core per node |")
        say("|---|---|---|---|---|---|")
        rounds = [(count, args.rate) for count in counts]
        top = counts[-1]
        if 1 in counts and top > 1:  # one node carrying what each of the top count carries
            rounds.insert(1, (1, args.rate / top))
        per_node_load: dict[int, float] = {}
        for index, (count, rate) in enumerate(rounds):
            while len(cluster.nodes) < count:
                await cluster.add()
            if roster is None:
                roster = await open_worlds(bus, worlds, args.players)
            await eventually(lambda: all_answer(bus, worlds), timeout=60, message="every world answers")
            settled_after = await settle(bus)
            await asyncio.sleep(args.warmup)  # replays end (steady state only is measured)
            before = cluster.cpu_seconds()
            await asyncio.sleep(args.idle)
            idle = (cluster.cpu_seconds() - before) / args.idle / count * 100
            before = cluster.cpu_seconds()
            sent = await load(bus, roster, rate, args.seconds, per_tick=not args.trickle)
            await asyncio.sleep(args.settle)  # the last moves are handled (no requests inside the window)
            spent = cluster.cpu_seconds() - before
            await eventually(lambda: all_answer(bus, worlds), timeout=60)
            cost = spent / sent * 1000
            if rate == args.rate:
                per_event[count] = cost
            else:
                per_node_load[count] = cost
            say(f"| {count} | {sent} | {spent:.2f} | {cost:.3f} | {cost / count:.3f} | {idle:.1f} |"
                f" ({rate:g} moves/s; placement settled {settled_after:.1f}s after the last start)")
            if index != len(rounds) - 1:
                await cluster.stop_all()

        if 1 in per_event and top > 1:
            say(f"coordination overhead at {top} nodes: {per_event[top] / per_event[1]:.2f} "
                "(CPU per event at {0} nodes / at 1 node; target <= 1.15)".format(top))
        if 1 in per_node_load and top in per_event:
            say(f"coordination overhead at {top} nodes, same load per node: {per_event[top] / per_node_load[1]:.2f} "
                f"(CPU per event at {top} nodes / at 1 node carrying {args.rate / top:g} moves/s: what a slower "
                "stream of events costs each process is not coordination)")

        assert roster is not None
        if top > 1:
            # Failover: kill the owner of the first world; time each of its worlds until a survivor answers.
            owners = await owner_ids(bus)
            victim_id = owners.get(partition_of(worlds[0], DEFAULT_PARTITIONS))
            victim = next(n for n in cluster.nodes if cluster.node_id(n) == victim_id)
            moved = [w for w in worlds if owners.get(partition_of(w, DEFAULT_PARTITIONS)) == victim_id]
            loop = asyncio.get_running_loop()
            killed = loop.time()
            await victim.kill()
            cluster.nodes.remove(victim)
            resumed: dict[str, float] = {}

            async def until_answered(world: str) -> None:
                await eventually(lambda: clock_answers(bus, world), timeout=60, interval=0.05)
                resumed[world] = loop.time() - killed

            await asyncio.gather(*(until_answered(w) for w in moved))
            times = sorted(resumed.values())
            say(f"failover after SIGKILL of 1 of {top} nodes ({len(moved)} worlds moved, lease TTL "
                f"{args.lease_ttl}s): p50 {statistics.median(times):.2f}s, max {times[-1]:.2f}s")

            # Rebalance: a node joins; until it owns its fair share and every world answers.
            joined = loop.time()
            newcomer = await cluster.add()
            new_id = cluster.node_id(newcomer)
            share = DEFAULT_PARTITIONS // len(cluster.nodes)

            async def took_share() -> bool:
                owned = sum(1 for node in (await owner_ids(bus)).values() if node == new_id)
                return owned >= share and await all_answer(bus, worlds)

            await eventually(took_share, timeout=60, interval=0.1)
            say(f"rebalance: a node joining {len(cluster.nodes) - 1} took its fair share ({share} of "
                f"{DEFAULT_PARTITIONS} partitions) and every world answered after {loop.time() - joined:.2f}s "
                "(including the process start)")
            owners = await owner_ids(bus)
            held = {cluster.node_id(node): 0 for node in cluster.nodes}
            for world in worlds:
                owner = owners.get(partition_of(world, DEFAULT_PARTITIONS))
                if owner in held:
                    held[owner] += 1
            say(f"worlds per node after rebalancing: {sorted(held.values())} ({len(worlds)} worlds, "
                f"{len(cluster.nodes)} nodes; partitions per node: "
                f"{sorted(sum(1 for o in owners.values() if o == n) for n in held)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,2,4", help="node counts, comma separated")
    parser.add_argument("--worlds", type=int, default=32)
    parser.add_argument("--players", type=int, default=8, help="players per world")
    parser.add_argument("--rate", type=float, default=300.0, help="player moves per second, all worlds together")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per node count")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measured before the load")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after the load still counted")
    parser.add_argument("--lease-ttl", type=int, default=5)
    parser.add_argument("--trickle", action="store_true",
                        help="publish each frame after the previous one's ack (frames arrive one at a time)")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
