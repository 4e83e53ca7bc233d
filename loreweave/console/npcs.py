"""An NPC's mind for the console: its state from the npc actor's saved snapshot, its memories
ranked by the knowledge base as its next line would recall them.

The npc actor saves its state to ``actor_snapshots`` every few seconds when it runs with a
database (one row per world, or one for every world); the console reads that snapshot and never talks to the actor.
Memories are recalled with ``touch=False``: reading them here must not refresh them, or the
console would change what an NPC remembers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgpack

from loreweave.db import Database

logger = logging.getLogger(__name__)

#: The actor whose snapshot holds every NPC.
NPC_ACTOR = "npc"

#: A day's plan per schedule kind: (hour it starts, activity, place); mirrors the npc actor's table.
_FALLBACK_SCHEDULES: dict[str, tuple[tuple[int, str, str], ...]] = {
    "day": ((0, "sleep", "home"), (6, "eat", "home"), (8, "work", "work"), (12, "eat", "social"),
            (13, "work", "work"), (18, "socialise", "social"), (22, "sleep", "home")),
}


def _schedules() -> Mapping[str, Any]:
    try:  # the game's own table when the game actors are installed: one source of truth
        from loreweave.actors.npc.schedule import SCHEDULES
    except ImportError:
        return _FALLBACK_SCHEDULES
    return SCHEDULES


def mood_of(needs: Mapping[str, float]) -> str:
    """One word for how an NPC feels, as the npc actor says it (``calm`` when needs are unknown)."""
    try:
        from loreweave.actors.npc.schedule import mood
        return mood(dict(needs))
    except (ImportError, KeyError):
        return "calm"


@dataclass(frozen=True, slots=True)
class ScheduleSlot:
    """One part of an NPC's day."""

    hour: int
    activity: str
    place: str
    region: str


@dataclass(frozen=True, slots=True)
class NpcView:
    """An NPC's state as the npc actor last saved it."""

    id: str
    name: str
    role: str
    region: str
    activity: str
    mood: str
    needs: dict[str, float]
    relationships: list[tuple[str, float]]
    recent: list[str]
    traits: list[str]
    schedule_kind: str
    schedule: list[ScheduleSlot]
    turns: int = 0


@dataclass(frozen=True, slots=True)
class WorldState:
    """What the npc actor's snapshot says of one world.

    Attributes:
        npcs: every NPC by id.
        weather: condition per region.
        region_names: display names per region.
        game_minutes: minutes since the world's start (time of day is ``% 1440``).
        saved_at: when the snapshot was saved.
    """

    npcs: dict[str, NpcView] = field(default_factory=dict)
    weather: dict[str, str] = field(default_factory=dict)
    region_names: dict[str, str] = field(default_factory=dict)
    game_minutes: int = 0
    saved_at: datetime | None = None

    @property
    def time_of_day(self) -> str:
        """``HH:MM`` of the game clock and the part of the day."""
        hour, minute = divmod(self.game_minutes % 1440, 60)
        part = "night" if hour < 5 or hour >= 21 else "dawn" if hour < 8 else "day" if hour < 18 else "dusk"
        return f"{hour:02d}:{minute:02d} {part}"

    @property
    def npc_regions(self) -> dict[str, str]:
        """Where each NPC is now."""
        return {npc_id: npc.region for npc_id, npc in self.npcs.items()}


def _npc(npc_id: str, record: Mapping[str, Any]) -> NpcView:
    needs = {str(k): float(v) for k, v in (record.get("needs") or {}).items()}
    places = {"home": record.get("home", ""), "work": record.get("work", ""), "social": record.get("social", "")}
    kind = str(record.get("schedule", "day"))
    slots = [
        ScheduleSlot(int(hour), str(activity), str(place), str(places.get(place, "") or "roaming"))
        for hour, activity, place in _schedules().get(kind, ())
    ]
    relationships = sorted(
        ((str(player), float(value)) for player, value in (record.get("relationships") or {}).items()),
        key=lambda pair: -abs(pair[1]),
    )
    return NpcView(
        id=npc_id, name=str(record.get("name", npc_id)), role=str(record.get("role", "")),
        region=str(record.get("region", "")), activity=str(record.get("activity", "")), mood=mood_of(needs),
        needs=needs, relationships=relationships, recent=[str(m) for m in record.get("memory") or []],
        traits=[str(t) for t in record.get("traits") or []], schedule_kind=kind, schedule=slots,
        turns=int(record.get("turns", 0) or 0),
    )


def parse_world_state(state: bytes, world: str, saved_at: datetime | None = None) -> WorldState:
    """One world's part of the npc actor's snapshot (msgpack of its state model); empty if absent."""
    try:
        data = msgpack.unpackb(state, raw=False)
        # A world-placed node wraps one world's state with its bookkeeping: {"s": state, "at", "ids"}.
        while isinstance(data, dict) and isinstance(data.get("s"), (bytes, bytearray)):
            data = msgpack.unpackb(data["s"], raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        logger.warning("the npc actor's snapshot does not decode (%s): showing no NPC state", exc)
        return WorldState()
    worlds = data.get("worlds") if isinstance(data, dict) else None
    # A whole actor's state ({"worlds": {...}}), or one world's share of it (saved per world).
    w = worlds.get(world) if isinstance(worlds, dict) else data if isinstance(data, dict) and "npcs" in data else None
    if not isinstance(w, dict):
        return WorldState(saved_at=saved_at)
    return WorldState(
        npcs={str(i): _npc(str(i), r) for i, r in sorted((w.get("npcs") or {}).items()) if isinstance(r, dict)},
        weather={str(k): str(v) for k, v in (w.get("weather") or {}).items()},
        region_names={str(k): str(v) for k, v in (w.get("region_names") or {}).items()},
        game_minutes=int(w.get("game_minutes", 0) or 0),
        saved_at=saved_at,
    )


async def load_world_state(database: Database, world: str) -> WorldState:
    """The npc actor's last saved view of ``world`` (empty when it saved none).

    A node that places actors by world saves each world's share under the world's key; one that
    does not saves the whole state under the empty key.
    """
    snapshot = await database.state.load_snapshot(NPC_ACTOR, world) or await database.state.load_snapshot(NPC_ACTOR)
    if snapshot is None:
        return WorldState()
    return parse_world_state(snapshot.state, world, snapshot.updated_at)


@dataclass(frozen=True, slots=True)
class RankedMemory:
    """A memory with the scores that rank it (each normalised to 0..1, as the recall weighs them)."""

    text: str
    importance: float
    created_at: datetime
    last_accessed_at: datetime
    score: float
    recency: float
    importance_score: float
    relevance: float
    kind: str = ""


async def ranked_memories(kb: Any, world: str, owner: str, query: str, k: int = 20) -> list[RankedMemory]:
    """``owner``'s memories ranked for ``query`` by the knowledge base, without refreshing them.

    Raises:
        KnowledgeBaseError: a bad world, owner or query (the caller shows the field).
    """
    from loreweave.kb import recall

    recalled = await recall(kb, world, owner, query, k=k, touch=False)
    return [
        RankedMemory(
            text=r.memory.text, importance=r.memory.importance, created_at=r.memory.created_at,
            last_accessed_at=r.memory.last_accessed_at, score=r.score, recency=r.recency,
            importance_score=r.importance, relevance=r.relevance, kind=str(getattr(r.memory, "kind", "") or ""),
        )
        for r in recalled
    ]


@dataclass(frozen=True, slots=True)
class Reflection:
    """A conclusion an NPC drew from its memories, and the memories it drew it from."""

    text: str
    importance: float
    created_at: datetime
    evidence: list[str]


async def reflections(kb: Any, world: str, owner: str, limit: int = 200) -> list[Reflection]:
    """``owner``'s reflections, newest first, each with its evidence (empty when the knowledge base
    keeps none: older versions have no reflections)."""
    try:
        from loreweave.kb import list_memories
    except ImportError:
        return []
    memories = await list_memories(kb, world, owner, limit=limit)
    by_id = {m.id: m.text for m in memories}
    return [
        Reflection(m.text, m.importance, m.created_at,
                   [by_id.get(i, f"memory {i}") for i in getattr(m, "evidence", ()) or ()])
        for m in memories if getattr(m, "kind", "") == "reflection"
    ]


async def memory_owners(database: Database, world: str) -> dict[str, int]:
    """Who has memories in ``world`` and how many (read-only; empty without the kb tables)."""
    import asyncpg

    try:
        rows = await database.pool.fetch(
            "SELECT owner, count(*) AS n FROM kb_memories WHERE world_id = $1 GROUP BY owner ORDER BY owner", world
        )
    except asyncpg.UndefinedTableError:
        return {}
    return {row["owner"]: int(row["n"]) for row in rows}
