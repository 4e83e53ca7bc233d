"""``loreweave up``: the bus, the database, every actor and a simulated game server in one process."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib
import logging
import os
import socket
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import click

from loreweave.actors.runtime import Actor, ActorNode, Bus, StreamLimits, configure_telemetry
from loreweave.cli.connection import as_role, credential_lines, forget_embedded_url, record_embedded_url
from loreweave.config import Settings, load_settings
from loreweave.db import Database, open_database
from loreweave.embedded import EmbeddedNats, nats_url
from loreweave.security.credentials import redact_url, without_userinfo
from loreweave.protocol import ConfigError

logger = logging.getLogger("loreweave.up")


def game_actors(
    seed: int, writer_bus: Bus | None = None, lore: bool = False, settings: Settings | None = None
) -> list[Actor]:
    """Every actor of the catalog (the game actors and the journal), built with ``seed``.

    With ``writer_bus``, NPC lines are asked of the AI layer (``lw.ai.generate``, with lore from
    the knowledge base) and fall back to the script when no AI bridge answers in time. With
    ``lore``, the storyteller weaves facts from the knowledge base into its beats.
    """
    from loreweave.actors import catalog

    from loreweave.actors.payments import provider_from_settings

    options: dict[str, dict[str, Any]] = {"storyteller": {"lore_timeout_s": 1.0}} if lore else {}
    # A development world: the test provider (no money moves) unless another is configured.
    options["payments"] = {"provider": provider_from_settings(settings or load_settings({}), development=True)}
    if writer_bus is not None:
        try:
            from loreweave.actors.npc.bus_dialogue import BusDialogue
            from loreweave.actors.npc.dialogue import FallbackDialogue, ScriptedDialogue

            writer = FallbackDialogue(BusDialogue(writer_bus), ScriptedDialogue(seed), timeout_s=2.0)
            options["npc"] = {"writer": writer}
        except ImportError as exc:
            logger.warning("NPCs speak from the script only (%s): install loreweave[serve]", exc)
    return list(catalog.build_actors(list(catalog.ACTORS), seed=seed, options=options))


def knowledge_base(database: Database) -> Any | None:
    """The knowledge base on ``database``, or None when the ``kb`` extra is not installed."""
    try:
        from loreweave.kb.store import KnowledgeBase
    except ImportError as exc:
        logger.warning("knowledge base off (%s): install loreweave[kb]", exc)
        return None
    return KnowledgeBase(database.pool)


async def ingest_samples(kb: Any) -> None:
    """Ingest the sample worlds in the background (unchanged files cost nothing)."""
    from loreweave.kb.samples import ingest_sample_worlds

    try:
        reports = await ingest_sample_worlds(kb)
        click.echo(f"loreweave: knowledge base ready ({len(reports)} sample worlds ingested)")
    except Exception:
        logger.exception("ingesting the sample worlds failed; the world runs without them")


@contextlib.contextmanager
def data_dir_lock(settings: Settings) -> Iterator[None]:
    """Hold the data directory for one ``loreweave up``; a second one is refused clearly.

    An OS file lock (released by the kernel when the holder dies, even by SIGKILL), so a crash
    never leaves a stale lock behind.

    Raises:
        ConfigError: naming LOREWEAVE_DATA_DIR when another process holds it.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "up.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConfigError(
                "LOREWEAVE_DATA_DIR",
                f"another `loreweave up` (pid {holder}) runs with {settings.data_dir}: stop it first, "
                "or give this one a data directory of its own",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def world_services(settings: Settings, port: int | None = None) -> AsyncIterator[tuple[str, Database]]:
    """The bus URL and the migrated database, embedded ones started when none is configured
    (the embedded NATS on ``port``, else a free one)."""
    with data_dir_lock(settings):
        async with _world_services(settings, port) as services:
            yield services


@contextlib.asynccontextmanager
async def _embedded_nats(settings: Settings, port: int | None) -> AsyncIterator[str]:
    if port is None or settings.nats_url:
        async with nats_url(settings.nats_url, settings.data_dir) as url:
            yield url
        return
    server = EmbeddedNats(settings.data_dir / "nats", port=check_free_port(port))
    await server.start()
    try:
        yield server.client_url("actor-node")
    finally:
        await server.stop()


def check_free_port(port: int) -> int:
    """``port`` if nothing listens on it on 127.0.0.1.

    Raises:
        ConfigError: naming ``--port`` when it is taken (a system NATS on 4222, another world).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError("--port", f"127.0.0.1:{port} is not free ({exc.strerror})") from None
    return port


def write_contract(settings: Settings, url: str) -> Path:
    """Write the contract of this bus (``schemas export --server``) into ``DATA_DIR/schemas``."""
    from loreweave.schemas import export_schemas

    directory = settings.data_dir / "schemas"
    export_schemas(directory, server=without_userinfo(url))
    return directory / "asyncapi.json"


@contextlib.asynccontextmanager
async def _world_services(settings: Settings, port: int | None = None) -> AsyncIterator[tuple[str, Database]]:
    async with _embedded_nats(settings, port) as url:
        if not settings.nats_url:
            record_embedded_url(settings, url)
        try:
            async with open_database(settings) as database:
                yield url, database
        finally:
            if not settings.nats_url:
                forget_embedded_url(settings)


async def run_up(
    settings: Settings, *, players: int, seed: int, stop_after_s: float | None = None, port: int | None = None
) -> None:
    """Run the world until SIGTERM/SIGINT (or ``stop_after_s``); the embedded NATS on ``port``."""
    async with world_services(settings, port) as (url, database):
        click.echo(f"loreweave: bus at {redact_url(url)}; database migrated")
        click.echo(f"loreweave: contract of this bus (AsyncAPI + JSON Schema): {write_contract(settings, url)}")
        if not settings.nats_url:
            click.echo("\n".join(credential_lines(settings)))
        writer_bus = await Bus.connect(url, name="loreweave-npc-writer")
        kb = knowledge_base(database)
        actors: list[Actor] = game_actors(seed, writer_bus, lore=kb is not None, settings=settings)
        background: list[asyncio.Task[Any]] = []
        if kb is not None:
            from loreweave.actors.lore import Lore, importance_rater

            actors.append(Lore(kb, rater=importance_rater(writer_bus)))
            background.append(asyncio.create_task(ingest_samples(kb)))
        bus = await Bus.connect(
            url, name="loreweave-up", max_frame_bytes=settings.max_frame_bytes,
            limits=StreamLimits.from_settings(settings),
        )
        node = ActorNode.from_settings(bus, actors, settings, database=database)
        click.echo(f"loreweave: {len(actors)} actors: {', '.join(a.name for a in actors)}")
        click.echo("loreweave: follow the story with: loreweave tail 'lw.*.narrative.>'")
        from loreweave.cli.console import start_up_console

        console = await start_up_console(settings, url, database, kb)
        if stop_after_s is not None:
            asyncio.get_running_loop().call_later(stop_after_s, node.request_stop)
        try:
            await node.run_until_signalled(
                on_started=lambda: _start_simulator(background, _game_server_url(settings, url), players, seed)
            )
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if console is not None:
                await console.stop()
            await writer_bus.close()


def _game_server_url(settings: Settings, url: str) -> str:
    # The simulated game server plays by a game server's rules, not the actor node's.
    return as_role(settings, url, "game-server")


def _start_simulator(background: list[asyncio.Task[Any]], url: str, players: int, seed: int) -> None:
    # Only once every actor has subscribed, so the simulator's first frames are not missed.
    if players > 0:
        background.append(asyncio.create_task(_simulate(url, players, seed)))


async def _simulate(url: str, players: int, seed: int) -> None:
    simulate: Any = importlib.import_module("loreweave.simulate")
    try:
        await simulate.simulate(url, players=players, minutes=24 * 60, seed=seed, progress=False, world="thornwake",
                                dead_letters=False)
    except Exception:
        logger.exception("the simulated game server stopped")


@click.command("up")
@click.option("--players", default=5, show_default=True, help="Simulated players (0: none).")
@click.option("--seed", default=7, show_default=True, help="Seed of every random choice.")
@click.option("--for", "stop_after_s", type=float, default=None, help="Stop after this many seconds.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port of the embedded NATS (default: a free one; refused if taken).")
def up_command(players: int, seed: int, stop_after_s: float | None, port: int | None) -> None:
    """Run a living world: embedded NATS and PostgreSQL, every actor, a simulated game server."""
    settings = load_settings()
    configure_telemetry(settings.otel_exporter, "loreweave-up")
    if port is not None and settings.nats_url:
        raise ConfigError("--port", "sets the embedded NATS's port; LOREWEAVE_NATS_URL names another server")
    asyncio.run(run_up(settings, players=players, seed=seed, stop_after_s=stop_after_s, port=port))
