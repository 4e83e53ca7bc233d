"""What a designer reads in the live story: one :class:`StoryItem` per frame, sorted into kinds.

Pure: frames seen on the bus and rows of the journal become the same items, so the live feed,
scroll-back and the causal tree show one thing one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from loreweave.db import JournalEntry
from loreweave.protocol import Frame

#: Event types that are rows of the story (the journal's narrative, NPC lines, quests, purchases).
STORY_TYPES: tuple[str, ...] = (
    "narrative.beat", "narrative.hook", "npc.said", "quest.available", "quest.accepted", "quest.completed",
    "quest.failed", "world.flag_set", "payment.succeeded", "payment.refunded",
)

#: Kinds a designer filters by, in the order the filter lists them.
KINDS: tuple[str, ...] = ("beat", "hook", "npc", "quest", "flag", "payment", "ambience", "other")

#: Kinds that are context (shown in the strip above the story, not as rows).
CONTEXT_KINDS: frozenset[str] = frozenset({"ambience", "other"})

_QUEST_WORDS = {
    "quest.available": "available", "quest.accepted": "started", "quest.progressed": "progressed",
    "quest.completed": "completed", "quest.failed": "failed",
}


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One event as the console shows it.

    Attributes:
        id: the frame id (ULID).
        ts_us: emission time, microseconds since the Unix epoch.
        type: the event type, ``npc.said``.
        kind: what a designer filters by (:data:`KINDS`).
        text: the line to show.
        region: the region it happened in, when known.
        npc: the NPC concerned, when any.
        player: the player concerned, when any.
        tier: for an NPC line, the AI tier (or ``scripted``) that wrote it.
        fallback: for an NPC line, why the script wrote it instead of a model ('' when it did not fall back).
        label: a short tag (a beat's kind, a quest's outcome, an ambience trigger).
        correlation_id: the first frame of its conversation.
        causation_id: the frame whose handling emitted it.
        source: who emitted it.
        payload: the event's fields.
    """

    id: str
    ts_us: int
    type: str
    kind: str
    text: str
    region: str = ""
    npc: str = ""
    player: str = ""
    tier: str = ""
    fallback: str = ""
    label: str = ""
    correlation_id: str = ""
    causation_id: str | None = None
    source: str = ""
    payload: Mapping[str, Any] | None = None

    @property
    def context(self) -> bool:
        """Whether this is context (weather, time of day, translations), not a row of the story."""
        return self.kind in CONTEXT_KINDS

    @property
    def time(self) -> datetime:
        """Emission time, UTC."""
        return datetime.fromtimestamp(self.ts_us / 1e6, tz=timezone.utc)

    @property
    def clock(self) -> str:
        """``HH:MM:SS.mmm`` (UTC) for display."""
        return self.time.strftime("%H:%M:%S.%f")[:-3]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with ``clock`` and ``context`` added."""
        data = asdict(self)
        data["payload"] = dict(self.payload or {})
        data["clock"] = self.clock
        data["context"] = self.context
        return data


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def classify(
    frame_id: str, ts_us: int, event_type: str, payload: Mapping[str, Any], *,
    correlation_id: str = "", causation_id: str | None = None, source: str = "",
    npc_regions: Mapping[str, str] | None = None,
) -> StoryItem:
    """The story item of one frame's fields; ``npc_regions`` places an NPC's line in its region."""
    get = payload.get
    kind, text, label = "other", _text(get("text")), ""
    region, npc, player = _text(get("region")), "", _text(get("player_id"))
    tier = fallback = ""
    if event_type == "narrative.beat":
        kind, label = "beat", _text(get("kind")) or "beat"
    elif event_type == "narrative.hook":
        kind, label = "hook", _text(get("quest_id"))
        title = _text(get("title"))
        text = f"{title}: {text}" if title else text
    elif event_type == "narrative.ambience":
        kind, label = "ambience", _text(get("trigger"))
    elif event_type == "npc.said":
        kind, npc, player = "npc", _text(get("npc_id")), _text(get("to_player"))
        tier = _text(get("tier")) or "scripted"
        fallback = _text(get("fallback"))
        region = region or (npc_regions or {}).get(npc, "")
    elif event_type in _QUEST_WORDS:
        kind, label = "quest", _QUEST_WORDS[event_type]
        npc = _text(get("giver"))
        quest = _text(get("quest_id"))
        reason = _text(get("reason"))
        text = text or f"{player or 'a player'}: quest {quest} {label}" + (f" ({reason})" if reason else "")
        if event_type == "quest.progressed":
            kind = "other"
    elif event_type == "world.flag_set":
        kind, label = "flag", _text(get("flag")) or _text(get("name"))
        text = text or f"flag {label} = {get('value')!r}"
    elif event_type.startswith("payment."):
        kind, label = "payment", event_type.partition(".")[2]
        text = text or f"{player or 'a player'}: {label} {_text(get('sku'))}".rstrip()
    if not text:
        text = event_type
    return StoryItem(
        id=frame_id, ts_us=ts_us, type=event_type, kind=kind, text=text, region=region, npc=npc, player=player,
        tier=tier, fallback=fallback, label=label, correlation_id=correlation_id or frame_id,
        causation_id=causation_id, source=source, payload=dict(payload),
    )


def from_frame(frame: Frame, npc_regions: Mapping[str, str] | None = None) -> StoryItem:
    """The story item of a frame seen on the bus."""
    payload = frame.payload.to_wire() if hasattr(frame.payload, "to_wire") else frame.payload
    return classify(
        frame.id, frame.ts, frame.type, payload if isinstance(payload, Mapping) else {"value": payload},
        correlation_id=frame.correlation_id, causation_id=frame.causation_id, source=frame.source,
        npc_regions=npc_regions,
    )


def from_entry(entry: JournalEntry, npc_regions: Mapping[str, str] | None = None) -> StoryItem:
    """The story item of a journal row."""
    return classify(
        entry.frame_id, int(entry.ts.timestamp() * 1_000_000), entry.type, entry.payload,
        correlation_id=entry.correlation_id, causation_id=entry.causation_id, source=entry.source,
        npc_regions=npc_regions,
    )


@dataclass(frozen=True, slots=True)
class StoryFilter:
    """What a designer narrowed the story to; empty fields match everything."""

    region: str = ""
    npc: str = ""
    player: str = ""
    kind: str = ""

    def matches(self, item: StoryItem) -> bool:
        """Whether ``item`` passes every set field."""
        return (
            (not self.region or item.region == self.region)
            and (not self.npc or item.npc == self.npc)
            and (not self.player or item.player == self.player)
            and (not self.kind or item.kind == self.kind)
        )
