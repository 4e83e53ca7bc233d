"""``simulate()``: a game server playing a world with N players against the actors on a bus."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid

from nats.aio.client import Client
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from loreweave.actors.runtime import Bus, RequestError, frame_for
from loreweave.protocol import now_us
from loreweave.security.credentials import login_options
from loreweave.security.tls import tls_options
from loreweave.schemas import (
    RegistryQuery,
    RegistrySnapshot,
    SettingsGet,
    SettingsUpdate,
    VersionAnnounced,
    VersionGetReport,
    WorldClosed,
)
from loreweave.simulate.agent import GameServer, PlayerAgent
from loreweave.simulate.observer import SOURCE, Observer, Percentiles
from loreweave.simulate.report import SimulationReport
from loreweave.simulate.world_map import NPCS, opening

logger = logging.getLogger(__name__)


async def simulate(
    bus_url: str,
    players: int,
    minutes: float,
    seed: int = 0,
    progress: bool = True,
    *,
    world: str | None = None,
    clock_speed: float = 30.0,
    think_s: float = 1.0,
    settle_s: float = 1.0,
    handled_wait_s: float = 6.0,
    close_world: bool = True,
    ready_wait_s: float = 10.0,
    console: Console | None = None,
    dead_letters: bool = True,
) -> SimulationReport:
    """Play the Thornwake Reach with ``players`` players for ``minutes`` real minutes.

    The actors must run elsewhere on the same bus (``loreweave run``, or :func:`run_world`).

    Args:
        bus_url: the NATS server.
        players: simulated players; they join over the first tenth of the run (5 s at most).
        minutes: real minutes of play.
        seed: seed of every player's choices.
        progress: show a live progress line (rich).
        world: the world id (default: a fresh ``reach-<seed>-<random>``).
        clock_speed: game minutes per real second, sent in ``world.opened``.
        think_s: mean real seconds between a player's actions.
        settle_s: seconds to wait for the last reactions after the players left.
        handled_wait_s: how long to wait for actor heartbeats that count the frames handled.
        close_world: send ``world.closed`` at the end, so actors drop the world's state.
        ready_wait_s: how long to wait for the actors to answer before opening the world
            (frames sent before they subscribe are lost: core NATS keeps nothing).
        dead_letters: count dead letters in the report (off when playing with a game server's
            credential, which may not read them).
    """
    bus = await Bus.connect(bus_url, name="loreweave-simulator")
    wire: Client | None = None
    world = world or f"reach-{seed}-{uuid.uuid4().hex[:6]}"
    observer = Observer(world)
    try:
        wire = await connect_wire(bus_url)
        server = GameServer(bus, world, observer, wire=wire)
        await observer.start(wire, dead_letters=dead_letters)
        await _wait_for_actors(server, ready_wait_s)
        started = time.perf_counter()
        deadline = started + minutes * 60
        await server.send(opening(clock_speed))
        for npc in NPCS:
            await server.send(npc)
        await server.ask(SettingsUpdate(changes={"npc_chatter": 0.5}, by=SOURCE), optional=True)
        await server.send(VersionAnnounced(component="server", component_id=f"server-{world}", build="1.4.2",
                                           protocol="1.0", engine="UE 5.4"))
        ramp = min(5.0, minutes * 6)
        order = list(range(players))
        random.Random(seed).shuffle(order)
        agents = [PlayerAgent(server, f"p{index:04d}", seed, think_s, deadline) for index in range(players)]
        tasks = [
            asyncio.create_task(_guarded(server, agent.run(ramp * order[index] / max(1, players))))
            for index, agent in enumerate(agents)
        ]
        try:
            await _watch(tasks, server, observer, started, minutes * 60, progress, console)
        except BaseException:  # cancelled (``loreweave up`` stopping): stop the players before the bus closes
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        await asyncio.sleep(settle_s)
        handled, failures = await _handled(server, now_us(), handled_wait_s)
        duration = time.perf_counter() - started
        if close_world:
            await server.send(WorldClosed(reason="simulation over"))
        stats = server.stats
        return SimulationReport(
            world=world, players=players, seed=seed, duration_s=round(duration, 2), sent=stats.sent,
            requests=stats.requests, reacted=observer.reacted, actor_frames=observer.actor_frames,
            handled=handled, actor_failures=failures, latency_ms=Percentiles.of(observer.latencies_ms),
            request_ms=Percentiles.of(observer.request_ms), request_errors=dict(stats.request_errors),
            dead_letters=observer.dead_letters, agent_errors=stats.agent_errors, narrative=observer.narrative,
            quests_accepted=stats.accepted, quests_completed=observer.quests_completed,
            quests_failed=observer.quests_failed, purchases=stats.purchases,
            refused_clients=len(observer.refused), by_type=dict(sorted(observer.by_type.items())),
        )
    finally:
        await observer.stop()
        if wire is not None:
            await wire.close()
        await bus.close()


async def connect_wire(bus_url: str) -> Client:
    """The game server's publishing connection: ``no_echo``, so what it sends never comes back to it.

    The observer subscribes on it too; requests (whose replies it needs) go through the bus.
    """
    nc = Client()
    await nc.connect(
        bus_url, name="loreweave-simulator-wire", no_echo=True, connect_timeout=3, allow_reconnect=True,
        max_reconnect_attempts=-1, **login_options(bus_url), **tls_options(),
    )
    return nc


#: Requests that any world answers; ``versions`` starts last in the catalog, so its answer
#: means a node hosting every actor has subscribed them all.
_PROBES = (SettingsGet(), RegistryQuery(kind="models"), VersionGetReport())


async def actors_running(bus: Bus, timeout_s: float = 1.0) -> bool:
    """Whether actors already run on the bus: the versions actor (started last) is subscribed.

    Only "no responders" means none: a slow answer still means a node is there.
    """
    try:
        await bus.request(frame_for(VersionGetReport(), "probe", SOURCE), timeout_s)
    except RequestError as exc:
        return exc.code != "no_responders"
    return True


async def _wait_for_actors(server: GameServer, wait_s: float) -> None:
    """Wait until the settings, registry and versions actors answer, or ``wait_s`` passed."""
    deadline = time.perf_counter() + wait_s
    waiting = list(_PROBES)
    while waiting and time.perf_counter() < deadline:
        for probe in list(waiting):
            try:
                await server.bus.request(frame_for(probe, server.world, SOURCE), 1.0)
            except RequestError as exc:
                if exc.code == "no_responders":
                    continue
            waiting.remove(probe)
        if waiting:
            await asyncio.sleep(0.1)
    if waiting:
        logger.warning("no answer to %s: opening the world anyway", ", ".join(p.TYPE for p in waiting))


async def _guarded(server: GameServer, play: object) -> None:
    try:
        await play  # type: ignore[misc]
    except Exception:
        server.stats.agent_errors += 1
        logger.exception("a simulated player crashed")


async def _watch(
    tasks: list[asyncio.Task[None]], server: GameServer, observer: Observer, started: float, total_s: float,
    progress: bool, console: Console | None,
) -> None:
    """Wait for the players, pruning unanswered frames and (optionally) showing progress."""
    columns = (TextColumn("[bold]simulating[/]"), BarColumn(), TimeElapsedColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
        task = bar.add_task("", total=total_s)
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=0.5)
            observer.forget_older_than(30.0)
            recent = Percentiles.of(observer.latencies_ms[-2000:])
            bar.update(task, completed=min(total_s, time.perf_counter() - started), description=(
                f"{server.stats.online} online · {server.stats.sent:,} sent · {observer.actor_frames:,} actor frames"
                f" · {observer.narrative:,} narrative · p99 {recent.p99:.1f} ms"))


async def _handled(server: GameServer, since_us: int, wait_s: float) -> tuple[int | None, int | None]:
    """Frames handled and handler failures in the world, from heartbeats sent after ``since_us``."""
    deadline = time.perf_counter() + wait_s
    snapshot: RegistrySnapshot | None = None
    while True:
        snapshot = await server.ask(RegistryQuery(kind="actors", alive_only=True), optional=True)
        if snapshot is None:
            return None, None
        if all(entry.last_seen_us >= since_us for entry in snapshot.actors) or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.25)
    return sum(e.handled for e in snapshot.actors), sum(e.failed for e in snapshot.actors)
