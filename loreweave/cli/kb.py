"""``loreweave kb``: ingest lore, search it, and follow a concept's history.

Each command is a thin call of a ``run_*`` coroutine that tests call directly.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from loreweave.config import Settings, load_settings
from loreweave.kb.concepts import ConceptHistory, concept_history
from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.ingest import IngestReport, ingest_path
from loreweave.kb.samples import SAMPLE_WORLDS_DIR, ingest_sample_worlds
from loreweave.kb.search import MAX_K, METHODS, Method, SearchHit, check_query, search
from loreweave.kb.sources import discover
from loreweave.kb.store import open_knowledge_base
from loreweave.kb.worlds import check_world_id


class BarProgress:
    """An :class:`~loreweave.kb.ingest.IngestProgress` that draws a rich progress bar on stderr."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]embedding[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task: TaskID | None = None

    def start(self, total_chunks: int, files: int) -> None:
        """Show the bar for ``total_chunks`` chunks of ``files`` files."""
        if total_chunks:
            self._progress.start()
            self._task = self._progress.add_task(f"{files} file(s)", total=total_chunks)

    def advance(self, chunks: int, source: str) -> None:
        """Move the bar on by ``chunks``."""
        if self._task is not None:
            self._progress.update(self._task, advance=chunks, description=source)

    def close(self) -> None:
        """Remove the bar."""
        self._progress.stop()


async def run_ingest(settings: Settings, path: Path, *, world: str | None, progress: BarProgress | None = None) -> IngestReport:
    """``loreweave kb ingest``: ingest a file or folder into ``world`` (None: global lore)."""
    # Refuse a bad world or path before starting a database.
    if world is not None:
        check_world_id(world)
    await asyncio.to_thread(discover, path)
    async with open_knowledge_base(settings) as kb:
        return await ingest_path(kb, path, world=world, progress=progress)


async def run_samples(settings: Settings, *, progress: BarProgress | None = None) -> list[IngestReport]:
    """``loreweave kb samples``: ingest the sample worlds (what ``loreweave up`` does)."""
    async with open_knowledge_base(settings) as kb:
        return await ingest_sample_worlds(kb, SAMPLE_WORLDS_DIR, progress=progress)


async def run_search(settings: Settings, query: str, *, world: str | None, k: int, method: Method) -> list[SearchHit]:
    """``loreweave kb search``: the best ``k`` chunks for ``query``."""
    check_query(query)
    if world is not None:
        check_world_id(world)
    async with open_knowledge_base(settings) as kb:
        return await search(kb, query, world=world, k=k, method=method)


async def run_concept(settings: Settings, name: str, *, world: str | None) -> ConceptHistory:
    """``loreweave kb concept``: a concept's versions and the events that made them."""
    async with open_knowledge_base(settings) as kb:
        return await concept_history(kb, name, world=world)


def _summary(report: IngestReport) -> str:
    scope = f"world {report.world}" if report.world else "global lore"
    return (
        f"{scope}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {report.chunks_written} chunks written"
    )


@click.group("kb")
def kb_group() -> None:
    """The storyteller's knowledge base: lore, memories and concepts."""


@kb_group.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--world", default=None, help="World the lore belongs to (default: global lore).")
def ingest_command(path: Path, world: str | None) -> None:
    """Ingest a Markdown/text file or a folder of them; unchanged files are skipped."""
    progress = BarProgress()
    try:
        report = asyncio.run(run_ingest(load_settings(), path, world=world, progress=progress))
    finally:
        progress.close()
    click.echo(_summary(report))


@kb_group.command("samples")
def samples_command() -> None:
    """Ingest the sample worlds of examples/worlds (as `loreweave up` does)."""
    progress = BarProgress()
    try:
        reports = asyncio.run(run_samples(load_settings(), progress=progress))
    finally:
        progress.close()
    for report in reports:
        click.echo(_summary(report))


@kb_group.command("search")
@click.argument("query")
@click.option("--world", default=None, help="Search this world's lore as well as global lore.")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, MAX_K), help="Hits to show.")
@click.option("--method", type=click.Choice(METHODS), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
def search_command(query: str, world: str | None, k: int, method: Method, as_json: bool) -> None:
    """Search lore: hybrid vector + full-text retrieval, fused by reciprocal rank."""
    hits = asyncio.run(run_search(load_settings(), query, world=world, k=k, method=method))
    if as_json:
        click.echo(json.dumps([hit.to_dict() for hit in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("no matching lore")
    for rank, hit in enumerate(hits, start=1):
        where = hit.world or "global"
        click.echo(f"{rank}. [{hit.score:.4f}] {hit.source} › {hit.heading or hit.title}  ({where})")
        text = " ".join(hit.text.split())
        click.echo(f"   {text[:300]}{'…' if len(text) > 300 else ''}")


@kb_group.command("concept")
@click.argument("name")
@click.option("--world", default=None, help="The world whose concept to show.")
@click.option("--as-of", "as_of", type=click.DateTime(), default=None, help="Show only what was believed then.")
def concept_command(name: str, world: str | None, as_of: datetime | None) -> None:
    """Show a concept's history: each version and the event that changed it."""
    history = asyncio.run(run_concept(load_settings(), name, world=world))
    concept = history.concept
    click.echo(f"{concept.name} ({concept.kind}, {concept.world or 'global'})")
    versions = history.versions
    if as_of is not None:
        moment = as_of if as_of.tzinfo else as_of.astimezone()
        believed = history.as_of(moment)
        if believed is None:
            raise KnowledgeBaseError("as_of", f"{concept.name!r} did not exist yet at {moment:%Y-%m-%d %H:%M}")
        versions = [believed]
    for version in versions:
        cause = "defined"
        if version.event is not None:
            event = version.event
            when = f"{event.story_date}: " if event.story_date else ""
            cause = f"after event #{event.id} {event.kind} — {when}{event.summary}"
        click.echo(f"v{version.version}  {version.valid_from:%Y-%m-%d %H:%M}  {cause}")
        click.echo(f"    {version.summary}")
        if version.attributes:
            attrs = ", ".join(f"{key}={value}" for key, value in sorted(version.attributes.items()))
            click.echo(f"    {attrs}")
