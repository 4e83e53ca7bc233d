"""``loreweave kb``: ingest lore, search it, follow a concept's history, read an NPC's memories.

Each command is a thin call of a ``run_*`` coroutine that tests call directly. While a world
runs (``loreweave up``, or LOREWEAVE_NATS_URL), ``search``, ``concept`` and ``memories`` ask its
``lore`` actor over the bus, which has the embedding model loaded already: an answer in
milliseconds. Only when no world runs do they open the database and load the model here.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from loreweave.cli.connection import recorded_nats_url
from loreweave.config import Settings, load_settings
from loreweave.kb.concepts import ConceptHistory, concept_history
from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.ingest import IngestReport, ingest_path
from loreweave.kb.memory import list_memories, recall
from loreweave.kb.samples import CONCEPTS_FILE, SAMPLE_WORLDS_DIR, ingest_sample_worlds, seed_concepts
from loreweave.kb.search import MAX_K, METHODS, Method, SearchHit, check_query, search
from loreweave.kb.sources import discover
from loreweave.kb.store import open_knowledge_base
from loreweave.kb.worlds import check_world_id
from loreweave.schemas.base import Event
from loreweave.schemas.kb import ConceptRequest, LoreSearch, MemoriesRequest

#: Seconds a command waits for the running world's lore actor before answering locally.
LORE_TIMEOUT_S = 5.0
#: Seconds to reach the recorded bus before answering locally.
CONNECT_WAIT_S = 1.0


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


async def run_ingest(
    settings: Settings, path: Path, *, world: str | None, progress: BarProgress | None = None
) -> tuple[IngestReport | None, str | None]:
    """``loreweave kb ingest``: ingest a file or folder into ``world`` (None: global lore).

    A folder's ``concepts.yaml`` (or that file given alone) defines the world's concepts and
    records its events. Returns the lore report (None when only concepts.yaml was given) and
    a line about the concepts (None when there were none).

    Raises:
        KnowledgeBaseError: a bad world or path, or concepts.yaml without ``--world``.
    """
    # Refuse a bad world or path before starting a database.
    if world is not None:
        check_world_id(world)
    concepts = path if path.name == CONCEPTS_FILE else path / CONCEPTS_FILE
    has_concepts = concepts.is_file()
    only_concepts = path.is_file() and path.name == CONCEPTS_FILE
    if has_concepts and world is None:
        raise KnowledgeBaseError(
            "world", f"{concepts} defines concepts of a world: give --world WORLD (global lore has no story events)"
        )
    if not only_concepts:
        await asyncio.to_thread(discover, path)
    async with open_knowledge_base(settings) as kb:
        report = None if only_concepts else await ingest_path(kb, path, world=world, progress=progress)
        line = None
        if has_concepts and world is not None:
            defined, events = await seed_concepts(kb, concepts, world=world)
            line = f"{CONCEPTS_FILE}: {defined} concepts defined or kept, {events} events recorded or kept"
        return report, line


async def run_samples(settings: Settings, *, progress: BarProgress | None = None) -> list[IngestReport]:
    """``loreweave kb samples``: ingest the sample worlds (what ``loreweave up`` does)."""
    async with open_knowledge_base(settings) as kb:
        return await ingest_sample_worlds(kb, SAMPLE_WORLDS_DIR, progress=progress)


async def ask_lore(settings: Settings, world: str, request: Event) -> Any | None:
    """The running world's ``lore`` actor's answer to ``request`` (its payload), or None when no
    world runs or nothing answers (then the caller answers locally).

    Raises:
        KnowledgeBaseError: the lore actor refused the request (naming the field).
    """
    from loreweave.actors.runtime import Bus, RequestError, frame_for

    url = recorded_nats_url(settings, "designer")
    if url is None:
        return None
    try:
        bus = await Bus.connect(url, name="loreweave-kb", wait_s=CONNECT_WAIT_S)
    except Exception:  # noqa: BLE001  (a recorded bus that is gone: answer locally)
        return None
    try:
        reply = await bus.request(frame_for(request, world, "cli"), timeout=LORE_TIMEOUT_S)
    except RequestError as exc:
        if exc.code in ("no_responders", "timeout", "unavailable"):
            return None
        raise KnowledgeBaseError(exc.field, exc.message, code=exc.code) from None
    finally:
        await bus.close()
    return reply.payload


def _hit(data: dict[str, Any]) -> SearchHit:
    return SearchHit(**{**data, "heading_path": tuple(data.get("heading_path") or ())})


async def run_search(settings: Settings, query: str, *, world: str | None, k: int, method: Method) -> list[SearchHit]:
    """``loreweave kb search``: the best ``k`` chunks for ``query`` (from the running world when there is one)."""
    check_query(query)
    if world is not None:
        check_world_id(world)
        answer = await ask_lore(settings, world, LoreSearch(query=query, k=k, method=method))
        if answer is not None:
            return [_hit(hit) for hit in answer.hits]
    async with open_knowledge_base(settings) as kb:
        return await search(kb, query, world=world, k=k, method=method)


async def run_concept(settings: Settings, name: str, *, world: str | None) -> ConceptHistory:
    """``loreweave kb concept``: a concept's versions and the events that made them."""
    if world is not None:
        check_world_id(world)
        answer = await ask_lore(settings, world, ConceptRequest(name=name))
        if answer is not None:
            return ConceptHistory.from_dict(answer.history)
    async with open_knowledge_base(settings) as kb:
        return await concept_history(kb, name, world=world)


async def run_memories(
    settings: Settings, npc: str, *, world: str, query: str | None, k: int
) -> list[dict[str, Any]]:
    """``loreweave kb memories``: an NPC's memories, the best for ``query`` or the newest.

    Each item is ``{"memory": {...}}``, with ``score``/``recency``/``importance``/``relevance``
    when a query ranked them. Reading them does not mark them recalled.
    """
    check_world_id(world)
    if query is not None:
        check_query(query)
    answer = await ask_lore(settings, world, MemoriesRequest(owner=npc, query=query, k=k))
    if answer is not None:
        return list(answer.memories)
    async with open_knowledge_base(settings) as kb:
        if query:
            return [item.to_dict() for item in await recall(kb, world, npc, query, k=k, touch=False)]
        return [{"memory": memory.to_dict()} for memory in await list_memories(kb, world, npc, limit=k)]


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
    """Ingest a Markdown/text file or a folder of them (and its concepts.yaml); unchanged files are skipped."""
    progress = BarProgress()
    try:
        report, concepts = asyncio.run(run_ingest(load_settings(), path, world=world, progress=progress))
    finally:
        progress.close()
    if report is not None:
        click.echo(_summary(report))
    if concepts is not None:
        click.echo(concepts)


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
    """Search lore: hybrid vector + full-text retrieval (asks the running world when there is one)."""
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


def _real_time(text: str) -> datetime | None:
    """``text`` as a local date/time (ISO 8601), or None when it is not one (a story date, then)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.astimezone()


@kb_group.command("concept")
@click.argument("name")
@click.option("--world", default=None, help="The world whose concept to show.")
@click.option(
    "--as-of", "as_of", default=None,
    help="Show only what was believed then: a story date of the world's calendar (as its events name it, "
    "e.g. '1042 YR, 9 Wane'), or a moment of real time (YYYY-MM-DD[ HH:MM]).",
)
def concept_command(name: str, world: str | None, as_of: str | None) -> None:
    """Show a concept's history: each version and the event that changed it."""
    history = asyncio.run(run_concept(load_settings(), name, world=world))
    concept = history.concept
    click.echo(f"{concept.name} ({concept.kind}, {concept.world or 'global'})")
    versions = history.versions
    if as_of is not None:
        moment = _real_time(as_of)
        if moment is None:
            versions = [history.as_of_story(as_of)]
        else:
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


@kb_group.command("memories")
@click.argument("npc")
@click.option("--world", required=True, help="The world the NPC lives in.")
@click.option("--query", default=None, help="Rank by what serves this question (else the newest first).")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, MAX_K), help="Memories to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the memories as JSON.")
def memories_command(npc: str, world: str, query: str | None, k: int, as_json: bool) -> None:
    """Show an NPC's memories: what it met, heard, did and saw, and its reflections."""
    items = asyncio.run(run_memories(load_settings(), npc, world=world, query=query, k=k))
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo(f"{npc} remembers nothing in {world}")
    for rank, item in enumerate(items, start=1):
        memory = item["memory"]
        score = f" score {item['score']:.2f}" if "score" in item else ""
        about = f" about {memory['subject']}" if memory.get("subject") else ""
        click.echo(f"{rank}. [{memory['kind']}{about}, importance {memory['importance']:.0f}{score}] {memory['text']}")
