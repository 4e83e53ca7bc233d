"""The live story of one world: what a designer may read on the bus, kept in a ring buffer and
pushed to every open page.

The feed subscribes to the designer's subjects of the world (``loreweave.security.roles``), turns
each frame into a :class:`StoryItem`, numbers it, keeps the last few thousand for pages that
reconnect (``Last-Event-ID``) and for the causal tree, and hands it to each listener's queue at
once. Ambience lines update the context strip (weather and time of day per region) instead of
being rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from loreweave.console.story import StoryItem, from_frame
from loreweave.protocol import FrameError, LoreweaveError
from loreweave.security.roles import DESIGNER_READS

logger = logging.getLogger(__name__)

#: Items kept for reconnecting pages and causal trees.
DEFAULT_CAPACITY = 5000
#: Seconds between two pushes of the context strip.
CONTEXT_EVERY_S = 0.5
#: Items a slow page may fall behind before it is cut off (its browser reconnects and catches up).
LISTENER_QUEUE = 2000


@dataclass
class RegionContext:
    """What a region is like now: the last ambience line and the weather the npc actor knows."""

    region: str
    name: str = ""
    weather: str = ""
    ambience: str = ""
    trigger: str = ""
    ts_us: int = 0


@dataclass
class WorldContext:
    """Weather and time of day: context for the story, not rows of it."""

    regions: dict[str, RegionContext] = field(default_factory=dict)
    time_of_day: str = ""

    def region(self, region: str) -> RegionContext:
        """The context of ``region`` (created empty)."""
        return self.regions.setdefault(region, RegionContext(region))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, regions by name."""
        return {
            "time_of_day": self.time_of_day,
            "regions": [
                {"region": r.region, "name": r.name or r.region, "weather": r.weather, "ambience": r.ambience,
                 "trigger": r.trigger}
                for r in sorted(self.regions.values(), key=lambda r: r.name or r.region)
            ],
        }


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def mark(self, now: float | None = None) -> None:
        """Count one event."""
        self._times.append(time.monotonic() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        """Events per second in the last window."""
        moment = time.monotonic() if now is None else now
        while self._times and self._times[0] < moment - self.window_s:
            self._times.popleft()
        return len(self._times) / self.window_s


class LiveFeed:
    """The world's story as it happens, for any number of open pages.

    Args:
        world: the world followed.
        capacity: items kept for reconnecting pages and causal trees.
    """

    def __init__(self, world: str, capacity: int = DEFAULT_CAPACITY) -> None:
        self.world = world
        self.items: deque[tuple[int, StoryItem]] = deque(maxlen=capacity)
        self.seq = 0
        self.context = WorldContext()
        self.npc_regions: dict[str, str] = {}
        self.rate = RateMeter()
        self.undecodable = 0
        self._listeners: set[asyncio.Queue[tuple[str, int, Any]]] = set()
        self._context_sent = 0.0
        self._context_due = False
        self._subscriptions: list[Any] = []

    async def start(self, bus: Any) -> None:
        """Subscribe to what a designer may read in the world.

        Raises:
            LoreweaveError: the credential may not read the world's story (field ``world``).
        """
        for what in DESIGNER_READS:
            self._subscriptions.append(await bus.nc.subscribe(f"lw.{self.world}.{what}", cb=self._on_message(bus)))
        await bus.sync()
        if "permissions violation for subscription" in bus.last_error.lower():
            raise LoreweaveError("world", f"this credential may not read the story of {self.world!r}")

    async def stop(self) -> None:
        """Unsubscribe (the bus itself is the caller's)."""
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._subscriptions.clear()

    def _on_message(self, bus: Any) -> Any:
        async def receive(msg: Any) -> None:
            try:
                frame = bus.decode(msg.data, msg.subject)
            except FrameError as exc:
                self.undecodable += 1
                logger.warning("console: undecodable frame on %s: %s", msg.subject, exc)
                return
            self.add(from_frame(frame, self.npc_regions))

        return receive

    def add(self, item: StoryItem) -> int:
        """Keep ``item``, update the context, and push it to every listener; its sequence number."""
        self.seq += 1
        self.items.append((self.seq, item))
        self.rate.mark()
        if item.kind == "ambience" and item.region:
            region = self.context.region(item.region)
            region.ambience, region.trigger, region.ts_us = item.text, item.label, item.ts_us
            if item.label in ("dawn", "dusk") and not self.context.time_of_day:
                self.context.time_of_day = item.label  # until the npc actor's clock is known
            self._push_context()
        self._push(("story", self.seq, item))
        return self.seq

    def update_world(self, weather: Mapping[str, str], names: Mapping[str, str], time_of_day: str,
                     npc_regions: Mapping[str, str]) -> None:
        """Take the npc actor's view of weather, places and time; push the context when it changed."""
        before = self.context.to_dict()
        for region, condition in weather.items():
            self.context.region(region).weather = condition
        for region, name in names.items():
            if region in self.context.regions:
                self.context.regions[region].name = name
        self.context.time_of_day = time_of_day or self.context.time_of_day
        self.npc_regions = dict(npc_regions)
        if self.context.to_dict() != before or self._context_due:
            self._push_context(force=True)

    def _push_context(self, force: bool = False) -> None:
        # Ambience can come by the thousand (a line per player move): pages get the strip at most
        # twice a second; a change held back goes out with the next world update.
        now = time.monotonic()
        if not force and now - self._context_sent < CONTEXT_EVERY_S:
            self._context_due = True
            return
        self._context_sent, self._context_due = now, False
        self._push(("context", self.seq, self.context.to_dict()))

    def _push(self, message: tuple[str, int, Any]) -> None:
        for queue in list(self._listeners):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a stalled page: cut it off; its browser reconnects and catches up
                self._listeners.discard(queue)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[tuple[str, int, Any]]]:
        """A queue of ``(event, seq, data)`` for one page, from now on."""
        queue: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue(LISTENER_QUEUE)
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    def is_listening(self, queue: asyncio.Queue[tuple[str, int, Any]]) -> bool:
        """Whether ``queue`` still gets items (False once it fell too far behind)."""
        return queue in self._listeners

    @property
    def listeners(self) -> int:
        """Pages listening now."""
        return len(self._listeners)

    def since(self, seq: int) -> list[tuple[int, StoryItem]]:
        """Items after sequence number ``seq`` still in the buffer."""
        return [(n, item) for n, item in self.items if n > seq]

    def recent(self, limit: int) -> list[StoryItem]:
        """The last ``limit`` items, oldest first."""
        return [item for _, item in list(self.items)[-limit:]]

    def find(self, frame_id: str) -> StoryItem | None:
        """The item of ``frame_id`` if still in the buffer."""
        return next((item for _, item in reversed(self.items) if item.id == frame_id), None)

    def conversation(self, correlation_id: str) -> list[StoryItem]:
        """Items of one conversation still in the buffer."""
        return [item for _, item in self.items if item.correlation_id == correlation_id]
