"""``loreweave db migrate|status`` and ``loreweave history``: thin calls of :mod:`loreweave.db`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any, Coroutine, Sequence, TypeVar

import asyncpg
import click

from loreweave.config import load_settings
from loreweave.db import JournalEntry, database_status, journal_history, migrate_database
from loreweave.db.journal import MAX_QUERY_LIMIT
from loreweave.embedded.postgres import POSTGRES_DIR
from loreweave.protocol.errors import LoreweaveError

T = TypeVar("T")



class CommandError(click.ClickException):
    """A Loreweave error shown as one line, exit code 2."""

    exit_code = 2


class OneLineCommand(click.Command):
    """A command whose bad arguments are reported as one line (exit code 2), without the usage text."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise CommandError(exc.format_message()) from None


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a library coroutine; a Loreweave error becomes one clear line and exit code 2."""
    try:
        return asyncio.run(coroutine)
    except LoreweaveError as exc:
        raise CommandError(str(exc)) from None


class IsoDateTime(click.ParamType):
    """An ISO 8601 time (``2025-06-01``, ``2025-06-01T12:00:00Z``); without a zone, UTC."""

    name = "ISO-TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2025-06-01T12:00:00Z)", param, ctx)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def format_history(entries: Sequence[JournalEntry], payload_width: int | None = None) -> list[str]:
    """Journal entries as aligned lines: time (UTC), type, source, frame id, correlation id (what
    ``--correlation`` takes), the whole payload (cut at ``payload_width`` characters when given)."""
    if not entries:
        return []
    type_width = max(len(e.type) for e in entries)
    source_width = max(len(e.source) for e in entries)
    lines = []
    for entry in entries:
        moment = entry.ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        payload = json.dumps(entry.payload, ensure_ascii=False, separators=(", ", ": "))
        if payload_width is not None and len(payload) > payload_width:
            payload = payload[: payload_width - 1] + "…"
        lines.append(
            f"{moment}  {entry.type:<{type_width}}  {entry.source:<{source_width}}  {entry.frame_id}  "
            f"correlation={entry.correlation_id}  {payload}"
        )
    return lines


@click.group("db")
def db_group() -> None:
    """The world's PostgreSQL database (LOREWEAVE_DATABASE_URL, or an embedded server)."""


@db_group.command("migrate", cls=OneLineCommand)
def migrate_command() -> None:
    """Apply the migrations not yet applied, in order."""
    applied = run(migrate_database(load_settings()))
    if not applied:
        click.echo("database is up to date: nothing to apply")
    for migration in applied:
        click.echo(f"applied {migration.filename}")


@db_group.command("status", cls=OneLineCommand)
def status_command() -> None:
    """Show every migration: applied (when), pending, changed or missing."""
    states = run(database_status(load_settings()))
    for state in states:
        when = f"{state.applied_at:%Y-%m-%d %H:%M:%S%z}" if state.applied_at else ""
        click.echo(f"{state.version:04d}  {state.name:<32}  {state.status:<8}  {when}".rstrip())
    pending = sum(state.status == "pending" for state in states)
    click.echo(f"{len(states)} migrations, {pending} pending")


@click.command("history", cls=OneLineCommand)
@click.argument("world")
@click.option("--since", type=IsoDateTime(), help="First time shown (ISO 8601; UTC without a zone).")
@click.option("--until", type=IsoDateTime(), help="First time not shown.")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option("--correlation", help="Only the frames of this conversation (correlation id).")
@click.option(
    "--limit", type=click.IntRange(1, MAX_QUERY_LIMIT), default=50, show_default=True,
    help="Most frames shown; without --since, the latest ones.",
)
def history_command(
    world: str,
    since: datetime | None,
    until: datetime | None,
    types: tuple[str, ...],
    correlation: str | None,
    limit: int,
) -> None:
    """Print the journaled frames of WORLD, oldest first (never creates a database)."""
    settings = load_settings()
    if not settings.database_url and not (settings.data_dir / POSTGRES_DIR).is_dir():
        raise CommandError(
            f"no database in {settings.data_dir / POSTGRES_DIR}: nothing was journaled here (start a world with "
            "`loreweave up`, or set LOREWEAVE_DATABASE_URL)"
        )
    try:
        entries = run(
            journal_history(
                settings, world, since=since, until=until, types=list(types) or None,
                correlation_id=correlation, limit=limit,
            )
        )
    except asyncpg.UndefinedTableError:
        raise CommandError("this database has no journal yet (`loreweave db migrate`, or run a world)") from None
    if not entries:
        click.echo(f"no journaled frames in world {world!r} match")
    for line in format_history(entries):
        click.echo(line)
