"""``loreweave run`` (host any subset of actors) and ``loreweave simulate`` (play a world).

Both are thin: :func:`run_actors` and :func:`run_world` do the work and can be called from
tests and from ``loreweave up``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from loreweave.actors.catalog import ACTORS, build_actors, parse_actor_names
from loreweave.actors.payments import provider_from_settings
from loreweave.cli.connection import as_role, recorded_nats_url, with_wait
from loreweave.actors.runtime import ActorNode, Bus, StreamLimits, configure_telemetry
from loreweave.actors.runtime.process import tune_gc
from loreweave.config import Settings, load_settings
from loreweave.db import Database, open_database
from loreweave.embedded import nats_url
from loreweave.security.credentials import redact_url
from loreweave.simulate import SimulationReport, actors_running, simulate

#: Heartbeat interval of actors hosted by ``simulate``: short, so the report's counts are fresh.
SIMULATION_HEARTBEAT_S = 1.0


def _configured_url(settings: Settings) -> str | None:
    """LOREWEAVE_NATS_URL, else the server a running ``loreweave up`` recorded, else none (embedded);
    logged in as an actor node."""
    return recorded_nats_url(settings, "actor-node")


@contextlib.asynccontextmanager
async def database_for(names: list[str], settings: Settings) -> AsyncIterator[Database | None]:
    """The migrated database when one of the actors keeps persistent state, or when one is configured
    (exclusive actors then save their state there, for the node that takes them over); else None."""
    persistent = any(ACTORS[name].State is not None for name in names)
    if not persistent and not (settings.database_url and settings.exclusive_actors):
        yield None
        return
    async with open_database(settings) as database:
        yield database


async def _node(
    url: str, names: list[str], seed: int, settings: Settings | None, database: Database | None = None,
    *, development: bool = False, options: Mapping[str, Mapping[str, Any]] | None = None, **build: Any,
) -> ActorNode:
    settings = settings or load_settings({})
    options = {name: dict(given) for name, given in (options or {}).items()}
    if "payments" in names:  # a production node moves no money unless a provider is configured
        options.setdefault("payments", {}).setdefault(
            "provider", provider_from_settings(settings, development=development)
        )
    bus = await Bus.connect(
        url, name=f"loreweave-run:{','.join(names)}"[:120], max_frame_bytes=settings.max_frame_bytes,
        limits=StreamLimits.from_settings(settings), wait_s=settings.nats_connect_wait_s,
    )
    actors = build_actors(names, seed, options=options, **build)
    return ActorNode.from_settings(bus, actors, settings, database=database)


async def run_actors(
    url: str,
    actor_names: list[str],
    seed: int = 0,
    *,
    stop_after_s: float | None = None,
    quests_dir: Path | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    settings: Settings | None = None,
    database: Database | None = None,
) -> None:
    """Host the named actors on the bus at ``url`` until SIGTERM/SIGINT (or ``stop_after_s``).

    Persistent actors need ``database``.
    """
    node = await _node(
        url, parse_actor_names(actor_names), seed, settings, database, quests_dir=quests_dir, options=options
    )
    if stop_after_s is not None:
        asyncio.get_running_loop().call_later(stop_after_s, node.request_stop)
    await node.run_until_signalled()


async def run_world(
    nats_url: str,
    actor_names: list[str],
    players: int,
    minutes: float,
    seed: int = 0,
    *,
    progress: bool = False,
    world: str | None = None,
    clock_speed: float = 30.0,
    think_s: float = 1.0,
    close_world: bool = True,
    quests_dir: Path | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
    database: Database | None = None,
) -> SimulationReport | None:
    """Host the named actors and play the world with ``players`` players for ``minutes`` real minutes.

    With ``players == 0`` the actors run until SIGTERM/SIGINT and nothing is returned.
    """
    names = parse_actor_names(actor_names)
    if players <= 0:
        await run_actors(
            nats_url, names, seed, quests_dir=quests_dir, options=options, settings=settings, database=database
        )
        return None
    node = await _node(nats_url, names, seed, settings, database, quests_dir=quests_dir, options=options,
                       heartbeat_s=SIMULATION_HEARTBEAT_S, development=True)
    await node.start()
    try:
        return await simulate(
            nats_url, players, minutes, seed, progress, world=world, clock_speed=clock_speed, think_s=think_s,
            handled_wait_s=SIMULATION_HEARTBEAT_S * 3, close_world=close_world, console=console,
        )
    finally:
        await node.stop()


@click.command("run")
@click.option("--actors", "actor_spec", default="all", show_default=True,
              help="Comma-separated actor names, or 'all'.")
@click.option("--seed", default=0, show_default=True, help="Seed of every random choice.")
@click.option("--quests", "quests_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of quest files (default: examples/quests).")
@click.option("--for", "stop_after_s", type=float, default=None, help="Stop after this many seconds.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=None,
              help="Seconds to keep trying to reach NATS (default: LOREWEAVE_NATS_CONNECT_WAIT_S, 5).")
def run_command(
    actor_spec: str, seed: int, quests_dir: Path | None, stop_after_s: float | None, wait_s: float | None
) -> None:
    """Host a set of actors in this process (a deployment spreads them across processes and hosts)."""
    settings = with_wait(load_settings(), wait_s)
    names = parse_actor_names(actor_spec)
    configure_telemetry(settings.otel_exporter, "loreweave-run")
    tune_gc()

    async def main() -> None:
        async with nats_url(_configured_url(settings), settings.data_dir) as url:
            async with database_for(names, settings) as database:
                click.echo(f"loreweave: running {', '.join(names)} on {redact_url(url)}")
                await run_actors(
                    url, names, seed, stop_after_s=stop_after_s, quests_dir=quests_dir, settings=settings,
                    database=database,
                )

    asyncio.run(main())


async def _actors_on(url: str, settings: Settings) -> bool:
    bus = await Bus.connect(url, name="loreweave-simulate-probe", wait_s=settings.nats_connect_wait_s)
    try:
        return await actors_running(bus)
    finally:
        await bus.close()


@click.command("simulate")
@click.option("--players", default=20, show_default=True, help="Simulated players.")
@click.option("--minutes", default=1.0, show_default=True, help="Real minutes of play.")
@click.option("--seed", default=0, show_default=True, help="Seed of every random choice.")
@click.option("--actors", "actor_spec", default="auto", show_default=True,
              help="Actors to host here: 'auto' (none when actors already run on the bus, as under "
                   "`loreweave up`, else all), 'all', a comma-separated list, or 'none'.")
@click.option("--speed", "clock_speed", default=30.0, show_default=True, help="Game minutes per real second.")
@click.option("--think", "think_s", default=1.0, show_default=True, help="Mean seconds between a player's actions.")
@click.option("--world", default=None, help="World id (default: a fresh one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def simulate_command(
    players: int, minutes: float, seed: int, actor_spec: str, clock_speed: float, think_s: float,
    world: str | None, as_json: bool,
) -> None:
    """Play a world as a game server: players join, move, talk, quest, buy and leave; then report."""
    settings = load_settings()
    console = Console(stderr=as_json)
    configure_telemetry(settings.otel_exporter, "loreweave-simulate")

    async def main() -> SimulationReport | None:
        async with nats_url(_configured_url(settings), settings.data_dir) as url:
            spec = actor_spec.strip()
            if spec == "auto":
                spec = "none" if await _actors_on(url, settings) else "all"
                if spec == "none":
                    console.print("loreweave: actors already run on the bus; playing against them")
            if spec == "none":
                # As a game server, which may not read dead letters (an external server's login decides).
                return await simulate(as_role(settings, url, "game-server"), players, minutes, seed, True,
                                      world=world, clock_speed=clock_speed,
                                      think_s=think_s, console=console, dead_letters=bool(settings.nats_url))
            names = parse_actor_names(spec)
            async with database_for(names, settings) as database:
                return await run_world(
                    url, names, players, minutes, seed, progress=True, world=world,
                    clock_speed=clock_speed, think_s=think_s, settings=settings, console=console,
                    database=database,
                )

    report = asyncio.run(main())
    if report is None:
        return
    if as_json:
        import json

        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        console.print(report.table())
