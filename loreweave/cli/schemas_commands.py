"""``loreweave schemas export``: the contract a game server in any language builds from."""

from __future__ import annotations

from pathlib import Path

import click

from loreweave.cli.connection import URL_FILE
from loreweave.config import Settings, load_settings
from loreweave.schemas import export_schemas
from loreweave.security.credentials import without_userinfo


def default_server(settings: Settings) -> str | None:
    """The bus to name in the document: LOREWEAVE_NATS_URL, else the one a running ``up`` recorded."""
    if settings.nats_url:
        return without_userinfo(settings.nats_url)
    path = settings.data_dir / URL_FILE
    return path.read_text().strip() if path.is_file() else None


@click.group("schemas")
def schemas_group() -> None:
    """Event schemas for game servers in other languages."""


@schemas_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--server", "server", metavar="URL", default=None,
    help="The NATS server the document names (nats://HOST:PORT; default: LOREWEAVE_NATS_URL, else the bus of a "
    "running `loreweave up`, else none).",
)
def export_command(directory: Path, server: str | None) -> None:
    """Write JSON Schema for every event and an AsyncAPI 3.0 document to DIRECTORY."""
    server = server or default_server(load_settings())
    written = export_schemas(directory, server=server)
    where = f"server {without_userinfo(server)}" if server else "no server (pass --server nats://HOST:PORT)"
    click.echo(f"wrote {len(written)} files to {directory} (asyncapi.json, frame.schema.json, ...); {where}")
