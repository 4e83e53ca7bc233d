"""``loreweave up``: the bus, the database, every actor and a simulated game server in one process."""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

import click

from loreweave.actors.runtime import Actor, ActorNode, Bus, configure_telemetry
from loreweave.cli.connection import forget_embedded_url, record_embedded_url
from loreweave.config import Settings, load_settings
from loreweave.embedded import nats_url

logger = logging.getLogger("loreweave.up")


def all_actors(seed: int) -> list[Actor]:
    """Every game actor that exists, from the catalog (none if it is not installed yet)."""
    try:
        catalog: Any = importlib.import_module("loreweave.actors.catalog")
    except ImportError:
        return []
    return list(catalog.build_actors(list(catalog.ACTORS), seed=seed))


async def run_up(
    settings: Settings, *, players: int, seed: int, stop_after_s: float | None = None
) -> None:
    """Run the world until SIGTERM/SIGINT (or ``stop_after_s``)."""
    async with nats_url(settings.nats_url, settings.data_dir) as url:
        if not settings.nats_url:
            record_embedded_url(settings, url)
        click.echo(f"loreweave: bus at {url}")
        try:
            bus = await Bus.connect(url, name="loreweave-up", max_frame_bytes=settings.max_frame_bytes)
            actors = all_actors(seed)
            node = ActorNode(
                bus, actors, capacity=settings.mailbox_capacity, attempts=settings.handler_attempts
            )
            click.echo(
                f"loreweave: {len(actors)} actors: {', '.join(a.name for a in actors) or '(none yet)'}"
            )
            click.echo("loreweave: follow the story with: loreweave tail 'lw.*.narrative.>'")
            background: list[asyncio.Task[Any]] = []
            if players > 0:
                background.append(asyncio.create_task(_simulate(url, players, seed)))
            if stop_after_s is not None:
                asyncio.get_running_loop().call_later(stop_after_s, node.request_stop)
            try:
                await node.run_until_signalled()
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
        finally:
            if not settings.nats_url:
                forget_embedded_url(settings)


async def _simulate(url: str, players: int, seed: int) -> None:
    try:
        simulate: Any = importlib.import_module("loreweave.simulate")
    except ImportError:
        return
    await simulate.simulate(url, players=players, minutes=24 * 60, seed=seed, progress=False)


@click.command("up")
@click.option("--players", default=5, show_default=True, help="Simulated players (0: none).")
@click.option("--seed", default=7, show_default=True, help="Seed of every random choice.")
@click.option("--for", "stop_after_s", type=float, default=None, help="Stop after this many seconds.")
def up_command(players: int, seed: int, stop_after_s: float | None) -> None:
    """Run a living world: embedded NATS, every actor, and a simulated game server."""
    settings = load_settings()
    configure_telemetry(settings.otel_exporter, "loreweave-up")
    asyncio.run(run_up(settings, players=players, seed=seed, stop_after_s=stop_after_s))
