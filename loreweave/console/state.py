"""What the console's pages read from: the world followed, the database, the live feed, the
knowledge base and (optionally) an ops connection; one object, shared by every request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from loreweave.console.causality import CausalTree, build_tree
from loreweave.console.live import LiveFeed
from loreweave.console.npcs import WorldState, load_world_state
from loreweave.console.story import STORY_TYPES, StoryItem, from_entry
from loreweave.db import Database

logger = logging.getLogger(__name__)

#: Rows of the story the first view shows.
FIRST_VIEW_ROWS = 200
#: Frames of one conversation read for a causal tree.
CONVERSATION_ROWS = 2000


@dataclass
class ConsoleState:
    """The console's sources.

    Attributes:
        world: the world followed.
        database: the world's database (journal, snapshots, knowledge base).
        feed: the live story from the bus.
        kb: a ``loreweave.kb.KnowledgeBase`` on ``database``, or None without the kb extra.
        ops_bus: a bus connected with an ops credential (dead letters), or None.
        world_state: the npc actor's last saved view of the world.
        counters: the actors' handled and failed counts in the world (from heartbeats, with ``ops_bus``).
    """

    world: str
    database: Database
    feed: LiveFeed
    kb: Any | None = None
    ops_bus: Any | None = None
    world_state: WorldState = field(default_factory=WorldState)
    counters: Any | None = None
    _refresher: asyncio.Task[None] | None = None

    async def refresh_world_state(self) -> WorldState:
        """Read the npc actor's snapshot again and tell the feed what it says of weather and time."""
        self.world_state = await load_world_state(self.database, self.world)
        ws = self.world_state
        self.feed.update_world(ws.weather, ws.region_names, ws.time_of_day if ws.saved_at else "", ws.npc_regions)
        return ws

    def start_refreshing(self, every_s: float = 2.0) -> None:
        """Refresh the world state in the background (the npc actor saves it every 2 s)."""

        async def loop() -> None:
            while True:
                try:
                    await self.refresh_world_state()
                except Exception:  # noqa: BLE001  (the console keeps serving; the log says why)
                    logger.exception("console: reading the npc actor's snapshot failed")
                await asyncio.sleep(every_s)

        self._refresher = asyncio.create_task(loop())

    async def stop(self) -> None:
        """Stop the background refresh."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher

    async def story(self, limit: int = FIRST_VIEW_ROWS, until_us: int | None = None) -> list[StoryItem]:
        """The story's rows, oldest first: the journal's latest ``limit`` before ``until_us`` (or now),
        and, for the newest page, what the feed saw that the journal has not written yet."""
        from datetime import datetime, timezone

        until = None if until_us is None else datetime.fromtimestamp(until_us / 1e6, tz=timezone.utc)
        regions = self.feed.npc_regions
        entries = await self.database.journal.query(
            self.world, types=list(STORY_TYPES), until=until, limit=limit, latest=True
        )
        items = {e.frame_id: from_entry(e, regions) for e in entries}
        if until_us is None:
            newest = max((i.ts_us for i in items.values()), default=0)
            for item in self.feed.recent(limit):
                if not item.context and item.id not in items and item.ts_us >= newest:
                    items[item.id] = item
        ordered = sorted(items.values(), key=lambda i: (i.ts_us, i.id))
        return ordered[-limit:]

    async def find(self, frame_id: str) -> StoryItem | None:
        """An event by frame id: from the feed, else from the journal."""
        item = self.feed.find(frame_id)
        if item is not None:
            return item
        entry = await self.database.journal.get(frame_id)
        return None if entry is None or entry.world != self.world else from_entry(entry, self.feed.npc_regions)

    async def causal_tree(self, frame_id: str) -> CausalTree | None:
        """The causal tree of ``frame_id``'s conversation, or None for an unknown frame."""
        item = await self.find(frame_id)
        if item is None:
            return None
        entries = await self.database.journal.query(
            self.world, correlation_id=item.correlation_id, limit=CONVERSATION_ROWS
        )
        items = [from_entry(e, self.feed.npc_regions) for e in entries]
        items += self.feed.conversation(item.correlation_id)
        items.append(item)
        return build_tree(items, frame_id)
