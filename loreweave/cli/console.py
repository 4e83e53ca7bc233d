"""``loreweave console``: the designers' console of one world in a browser on localhost."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from loreweave.cli.connection import client_nats_url, embedded_auth, with_wait
from loreweave.config import Settings, load_settings
from loreweave.security.credentials import Credential


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
