"""``loreweave schemas export``."""

from __future__ import annotations

from pathlib import Path

import click

from loreweave.schemas import export_schemas


@click.group("schemas")
def schemas_group() -> None:
    """Event schemas for game servers in other languages."""


@schemas_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_command(directory: Path) -> None:
    """Write JSON Schema for every event and an AsyncAPI 3.0 document to DIRECTORY."""
    written = export_schemas(directory)
    click.echo(f"wrote {len(written)} files to {directory} (asyncapi.json, frame.schema.json, ...)")
