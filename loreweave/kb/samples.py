"""The sample worlds shipped in ``examples/worlds/``: one folder per world (``_global``
for lore every world sees), each with Markdown lore and optional ``concepts.yaml``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from loreweave.kb.concepts import ConceptChange, define_concept
from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.events import record_event
from loreweave.kb.ingest import IngestProgress, IngestReport, ingest_path
from loreweave.kb.store import KnowledgeBase

#: ``examples/worlds`` of the source tree.
SAMPLE_WORLDS_DIR = Path(__file__).resolve().parents[2] / "examples" / "worlds"
#: A folder of this name holds global lore.
GLOBAL_DIR = "_global"
CONCEPTS_FILE = "concepts.yaml"


async def ingest_sample_worlds(
    kb: KnowledgeBase, root: Path = SAMPLE_WORLDS_DIR, *, progress: IngestProgress | None = None
) -> list[IngestReport]:
    """Ingest every world folder under ``root`` and seed its concepts; unchanged files cost nothing.

    Raises:
        KnowledgeBaseError: ``root`` is missing, or a file or concepts.yaml is bad.
    """
    if not root.is_dir():
        raise KnowledgeBaseError("path", f"{root} is not a folder of sample worlds")
    reports = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        world = None if folder.name == GLOBAL_DIR else folder.name
        reports.append(await ingest_path(kb, folder, world=world, progress=progress))
        if world is not None and (folder / CONCEPTS_FILE).is_file():
            await seed_concepts(kb, folder / CONCEPTS_FILE, world=world)
    return reports


async def seed_concepts(kb: KnowledgeBase, path: Path, *, world: str) -> tuple[int, int]:
    """Define the concepts of a ``concepts.yaml`` and record its seed events (idempotent).

    Returns how many concepts and events the file holds (each defined or recorded, or kept).
    """
    data = await asyncio.to_thread(_load_yaml, path)
    concepts = data.get("concepts") or []
    events = data.get("events") or []
    for item in concepts:
        await define_concept(
            kb,
            item.get("name"),
            item.get("kind"),
            item.get("summary"),
            world=world,
            attributes=item.get("attributes") or {},
            exist_ok=True,
        )
    for item in events:
        changes = [
            ConceptChange(
                name=change.get("name"),
                summary=change.get("summary"),
                attributes=change.get("attributes") or {},
                kind=change.get("kind"),
            )
            for change in item.get("changes") or []
        ]
        await record_event(
            kb,
            world,
            item.get("kind", "narrative.beat"),
            item.get("summary"),
            changes=changes,
            story_date=item.get("story_date"),
            journal_id=item.get("journal_id"),
        )
    return len(concepts), len(events)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError("path", f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise KnowledgeBaseError("path", f"{path} must hold a map with 'concepts' and 'events'")
    return data
