"""The chaos scenarios: SIGKILLs of the node, connection cuts that drop bytes in flight, a burst.

Each scenario plays its own world: players join and take the chaos quest, the game server
sends a steady mix while the faults happen (or all of a burst at once), then the actors are
given time to catch up (their consumers' backlog reaches zero: a signal, with a deadline) and
the ground truth is audited.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

from loreweave.schemas import Event
from loreweave.testing.chaos.audit import JOURNALED_TYPES, audit_journal, audit_payments, audit_quests, read_stream
from loreweave.testing.chaos.report import ChaosReport, ScenarioResult
from loreweave.testing.chaos.rig import MAX_PER_PLAYER, ChaosConfig, Rig, Say, open_rig
from loreweave.testing.chaos.workload import GameServer
from loreweave.testing.waiting import ConditionNotMet, eventually

#: Frames the game server still sends after the last fault, so the fault is followed by traffic.
TAIL_FRAMES = 100
#: Share of the kills that land while the node starts (loading state, recovering), not after.
START_KILLS = 0.25


async def _world(rig: Rig, name: str, players: int) -> GameServer:
    await rig.ensure_node()
    server = GameServer(rig.bus, f"chaos-{name}-{uuid.uuid4().hex[:6]}")
    await server.join([f"p{index}" for index in range(players)])
    return server


async def _with_traffic(server: GameServer, config: ChaosConfig, rng: random.Random,
                        faults: Callable[[], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    traffic = asyncio.create_task(server.traffic(stop, config.rate, rng))
    try:
        await faults()
        tail = server.frames_sent + TAIL_FRAMES
        await eventually(lambda: server.frames_sent >= tail or traffic.done(), timeout=60)
    finally:
        stop.set()
        await traffic


async def _settle(rig: Rig, server: GameServer, config: ChaosConfig, say: Say, notes: list[str]) -> None:
    """Wait until every purchase has its answer and the persistent actors have no backlog."""
    await rig.ensure_node()
    await server.purchases_done(config.settle_s)
    loop = asyncio.get_running_loop()
    shown = [loop.time()]

    last_seq = [-1]

    async def caught_up() -> bool:
        # Empty twice in a row with nothing stored in between: a frame published just before
        # (an event of the last purchase) has reached the consumers' counts.
        seq, backlog = await rig.stream_last_seq(), await rig.backlog()
        backlog["outbox"] = await rig.outbox_backlog()
        if loop.time() - shown[0] > 10:
            shown[0] = loop.time()
            say(f"  settling: backlog {', '.join(f'{name} {left}' for name, left in backlog.items())}")
        steady, last_seq[0] = seq == last_seq[0], seq
        return steady and all(left == 0 for left in backlog.values())

    try:
        await eventually(caught_up, timeout=config.settle_s, interval=0.2, message="the actors' backlog to empty")
    except ConditionNotMet:
        backlog = {**await rig.backlog(), "outbox": await rig.outbox_backlog()}
        notes.append(f"the actors did not catch up within {config.settle_s:.0f} s: backlog {backlog}")


async def _audit(rig: Rig, server: GameServer, name: str, description: str, started: float,
                 notes: list[str]) -> ScenarioResult:
    assert rig.pool is not None
    types = ("quest.progressed", "payment.entitlement_granted", *JOURNALED_TYPES)
    stream = await read_stream(rig.bus, server.world, types)
    details: list[str] = []
    rows = await audit_quests(rig.pool, server, stream, details)
    payment_rows, ledger = await audit_payments(rig.pool, server, stream, details)
    rows += [*payment_rows, await audit_journal(rig.pool, server, stream, details)]
    notes += rig.take_exits()
    return ScenarioResult(name, description, rows, ledger, details, time.perf_counter() - started, notes)


async def kills(rig: Rig, config: ChaosConfig, say: Say) -> ScenarioResult:
    """SIGKILL the node ``config.kills`` times at random moments of a steady load, restarting it each time."""
    rng = random.Random(f"{config.seed}:kills")
    started, notes = time.perf_counter(), []
    server = await _world(rig, "kills", config.players)

    async def faults() -> None:
        for index in range(1, config.kills + 1):
            if not rig.node.running and rng.random() < START_KILLS:
                await rig.node.spawn()  # killed while it loads its state and recovers
                moment = rng.uniform(0.2, 1.5)
                await asyncio.sleep(moment)
                when = f"{moment:.2f} s after it was spawned" + ("" if rig.node.ready else ", before it was ready")
            else:
                await rig.ensure_node()
                moment = rng.uniform(0.1, 2.0)
                await asyncio.sleep(moment)  # the random moment, while frames flow
                when = f"{moment:.2f} s after it was ready"
            pid, seq = rig.node.pid, await rig.stream_last_seq()
            await rig.node.kill()
            say(f"  kill {index}/{config.kills}: SIGKILL node pid {pid} {when}"
                f" (stream seq {seq}; {server.frames_sent} frames, {len(server.purchases)} purchases sent)")
        await rig.ensure_node()

    await _with_traffic(server, config, rng, faults)
    await _settle(rig, server, config, say, notes)
    description = f"{config.kills} SIGKILLs of the node at random moments, restarted each time"
    return await _audit(rig, server, "kills", description, started, notes)


async def cuts(rig: Rig, config: ChaosConfig, say: Say) -> ScenarioResult:
    """Cut the node's NATS connection ``config.cuts`` times, dropping what the server sent it just before."""
    rng = random.Random(f"{config.seed}:cuts")
    started, notes = time.perf_counter(), []
    server = await _world(rig, "cuts", config.players)
    proxy = rig.proxy

    async def faults() -> None:
        for index in range(1, config.cuts + 1):
            await eventually(lambda: proxy.open_connections > 0, timeout=60, message="the node to reconnect")
            await asyncio.sleep(rng.uniform(0.5, 2.0))  # the random moment, while frames flow
            drop_s = rng.uniform(0.1, 0.4)
            # Odd cuts lose what the server sent (deliveries); even ones what the node sent too
            # (its publishes, acknowledgements and replies): a partition.
            direction = "to_client" if index % 2 else "both"
            dropped, seq = proxy.stats.bytes_dropped, await rig.stream_last_seq()
            cut = await proxy.drop_then_cut(drop_s, direction)
            way = "to the node" if direction == "to_client" else "both ways"
            say(f"  cut {index}/{config.cuts}: {proxy.stats.bytes_dropped - dropped} bytes {way} dropped for"
                f" {drop_s:.2f} s, then {cut} connection(s) cut (stream seq {seq} when the drop began)")
        await eventually(lambda: proxy.open_connections > 0, timeout=60, message="the node to reconnect")

    await _with_traffic(server, config, rng, faults)
    await _settle(rig, server, config, say, notes)
    notes.append(f"proxy: {proxy.stats.cuts} cuts, {proxy.stats.connections_cut} connections cut,"
                 f" {proxy.stats.bytes_dropped} bytes dropped, {proxy.stats.accepted} connections accepted in all")
    description = (f"{config.cuts} connection cuts through the proxy, the bytes in flight dropped first"
                   " (to the node; every other cut both ways)")
    return await _audit(rig, server, "cuts", description, started, notes)


async def burst(rig: Rig, config: ChaosConfig, say: Say) -> ScenarioResult:
    """Publish ``config.burst`` frames as fast as the stream takes them, with a purchase every thousand."""
    rng = random.Random(f"{config.seed}:burst")
    started, notes = time.perf_counter(), []
    # Four frames in five advance a quest: enough players that no counter reaches its end.
    players = max(config.players, config.burst * 4 // 5 // (MAX_PER_PLAYER // 2) + 1)
    server = await _world(rig, "burst", players)
    every = max(1, config.burst // max(1, config.burst // 1000))
    step = max(1, config.burst // 5)

    def events() -> Iterator[tuple[Event, str]]:
        for index in range(config.burst):
            player = server.players[index % len(server.players)]
            if index % every == 0:
                server.buy(player, rng)
            if index and index % step == 0:
                say(f"  burst: {index} of {config.burst} frames handed to the publisher")
            yield (server.story_event(index), "") if index % 5 == 4 else (server.collect(player), player)

    first = time.perf_counter()
    await server.publish_many(events())
    published_s = time.perf_counter() - first
    say(f"  burst: {config.burst} frames stored in {published_s:.1f} s ({config.burst / published_s:.0f}/s)")
    await _settle(rig, server, config, say, notes)
    applied_s = time.perf_counter() - first
    notes.append(f"burst: {config.burst} frames stored in {published_s:.1f} s, all applied {applied_s:.1f} s after"
                 f" the first was sent ({config.burst / applied_s:.0f} frames/s end to end)")
    return await _audit(rig, server, "burst", f"{config.burst} frames at once", started, notes)


#: Scenario name -> what it does.
SCENARIOS: dict[str, Callable[[Rig, ChaosConfig, Say], Awaitable[ScenarioResult]]] = {
    "kills": kills, "cuts": cuts, "burst": burst,
}


async def run_chaos(config: ChaosConfig, say: Say = print) -> ChaosReport:
    """Run the configured scenarios on fresh servers; progress goes to ``say``, findings to the report."""
    unknown = [name for name in config.scenarios if name not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario {unknown[0]!r} (known: {', '.join(SCENARIOS)})")
    report = ChaosReport()
    async with open_rig(config, say) as rig:
        for name in config.scenarios:
            if getattr(config, name) <= 0:  # --kills 0: no such scenario
                continue
            say(f"scenario {name}:")
            report.scenarios.append(await SCENARIOS[name](rig, config, say))
    return report
