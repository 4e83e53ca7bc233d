"""``loreweave console``: the designers' console of one world in a browser on localhost."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

import logging
from typing import Any

from loreweave.cli.connection import as_role, client_nats_url, embedded_auth, with_wait
from loreweave.config import Settings, load_settings
from loreweave.protocol.errors import LoreweaveError
from loreweave.security.credentials import Credential

logger = logging.getLogger("loreweave.console")

#: The world ``loreweave up`` plays, and the port its console prefers.
UP_WORLD = "thornwake"
UP_PORT = 8765


def ops_url(settings: Settings, designer_url: str, ops_creds: Path | None) -> str | None:
    """The bus logged in as an operator, to read dead letters: ``--ops-creds``, else the embedded
    server's ops credential; None when there is neither."""
    if ops_creds is not None:
        return Credential.read(ops_creds).url(designer_url)
    if settings.nats_url or settings.nats_creds is not None:
        return None
    auth = embedded_auth(settings)
    return auth.get("ops").url(designer_url) if auth.path("ops").is_file() else None


async def run_console(
    settings: Settings, world: str, host: str, port: int, ops_creds: Path | None, echo: object = click.echo
) -> None:
    """Serve the console until SIGINT/SIGTERM."""
    from loreweave.console import open_console
    from loreweave.db import open_database

    designer = client_nats_url(settings, "designer")
    async with open_database(settings) as database:
        async with open_console(
            world, designer, database, ops_url=ops_url(settings, designer, ops_creds), host=host, port=port,
            wait_s=settings.nats_connect_wait_s,
        ) as server:
            echo(f"loreweave: designers' console of {world} at {server.url}")  # type: ignore[operator]
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()


async def start_up_console(settings: Settings, url: str, database: Any, kb: Any | None) -> Any | None:
    """``loreweave up``'s console on the world it plays, as a designer (and ops for dead letters);
    it prints its URL. None, after one warning line, when it cannot start: the world runs anyway."""
    try:
        from loreweave.actors.runtime import Bus
        from loreweave.console import start_console
    except ImportError as exc:
        logger.warning("no designers' console (%s): install loreweave[console]", exc)
        return None
    buses: list[Any] = []
    try:
        for role in ("designer", "ops"):
            buses.append(await Bus.connect(as_role(settings, url, role), name=f"loreweave-console-{role}"))
    except Exception as exc:  # noqa: BLE001  (the world runs without its console)
        logger.warning("no designers' console: the bus refused it (%s)", type(exc).__name__)
        for bus in buses:
            await bus.close()
        return None
    server = None
    for port in (UP_PORT, 0):  # the usual port, else any free one
        try:
            server = await start_console(UP_WORLD, buses[0], database, kb=kb, ops_bus=buses[1], port=port)
            break
        except LoreweaveError as exc:
            logger.warning("designers' console: %s", exc)
    if server is None:
        for bus in buses:
            await bus.close()
        return None
    stop_server = server.stop

    async def stop() -> None:
        await stop_server()
        for bus in buses:
            await bus.close()

    server.stop = stop  # type: ignore[method-assign]
    click.echo(f"loreweave: designers' console of {UP_WORLD} at {server.url}")
    return server


@click.command("console")
@click.option("--world", default="thornwake", show_default=True, help="The world to follow.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--ops-creds", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An ops credential file, to show dead letters (default: the embedded server's).")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=None,
              help="Seconds to keep trying to reach NATS (default: LOREWEAVE_NATS_CONNECT_WAIT_S, 5).")
def console_command(world: str, host: str, port: int, ops_creds: Path | None, wait_s: float | None) -> None:
    """Open the designers' console: live story, why things happened, lore, NPCs, operations."""
    settings = with_wait(load_settings(), wait_s)
    try:
        asyncio.run(run_console(settings, world, host, port, ops_creds))
    except KeyboardInterrupt:
        pass
