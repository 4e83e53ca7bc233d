"""The game server of a chaos run: a known workload, with every frame it sent written down.

Players join and take the chaos quest; ``player.collected`` frames advance it; narrative beats
and NPC lines feed the journal; purchases, each with its own key, are retried with the same key
until a receipt comes back, as a real game server would. Frames are published with a JetStream
acknowledgement (retried with the same ``Nats-Msg-Id`` until stored), so the stream holds
exactly what was sent and each frame's stream sequence is known.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from loreweave.actors.payments.actor import CATALOG
from loreweave.actors.runtime import Bus, RequestError, frame_for
from loreweave.protocol import frame_headers
from loreweave.schemas import (
    Event,
    NarrativeBeat,
    NpcSaid,
    PaymentPurchase,
    PaymentReceipt,
    PlayerCollected,
    PlayerJoined,
    QuestAccept,
)
from loreweave.testing.chaos.rig import ITEM, QUEST_ID

#: Who the frames say they come from.
SOURCE = "chaos-game-server"
#: Codes of a request's error reply that a retry cannot fix (the caller's fault).
REFUSED = frozenset({"bad_request"})


@dataclass(frozen=True)
class SentFrame:
    """A frame the game server published, and where the stream stored it."""

    id: str
    seq: int
    type: str
    player: str = ""


@dataclass
class Purchase:
    """A purchase key the game server used, and what came of it."""

    key: str
    player: str
    sku: str
    amount_cents: int
    attempts: int = 0
    receipt: PaymentReceipt | None = None
    error: str = ""


@dataclass
class GameServer:
    """Sends the workload of one world and remembers it."""

    bus: Bus
    world: str
    collected: list[SentFrame] = field(default_factory=list)
    story: list[SentFrame] = field(default_factory=list)
    purchases: dict[str, Purchase] = field(default_factory=dict)
    players: list[str] = field(default_factory=list)
    publish_retries: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def frames_sent(self) -> int:
        """Frames published so far (requests not counted)."""
        return len(self.collected) + len(self.story) + len(self.players)

    async def publish(self, event: Event, player: str = "") -> SentFrame:
        """Publish one event durably, retrying with the same frame (so the same id) until stored."""
        frame = frame_for(event, self.world, SOURCE)
        data, headers = self.bus.encode(frame), frame_headers(frame)
        for attempt in range(100):
            try:
                ack = await self.bus.js.publish(frame.subject, data, headers=headers, timeout=5.0)
                break
            except Exception:  # a timeout or a reconnection: the same id is de-duplicated
                self.publish_retries += 1
                if attempt == 99:
                    raise
                await asyncio.sleep(0.1)
        sent = SentFrame(frame.id, int(ack.seq), frame.type, player)
        if isinstance(event, PlayerCollected):
            self.collected.append(sent)
        elif isinstance(event, (NarrativeBeat, NpcSaid)):
            self.story.append(sent)
        return sent

    async def publish_many(self, events: Iterable[tuple[Event, str]], window: int = 256) -> None:
        """Publish many events, ``window`` awaiting their acknowledgement at a time."""
        pending: set[asyncio.Task[SentFrame]] = set()
        for event, player in events:
            if len(pending) >= window:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            pending.add(asyncio.create_task(self.publish(event, player)))
        for task in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(task, BaseException):
                raise task

    async def request(self, event: Event, timeout: float = 3.0, deadline_s: float = 120.0) -> Event:
        """Send a request (a new frame each try) until it is answered; refusals are raised at once."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline_s
        while True:
            try:
                reply = await self.bus.request(frame_for(event, self.world, SOURCE), timeout)
                return reply.payload  # type: ignore[no-any-return]
            except RequestError as exc:
                if exc.code in REFUSED or loop.time() > give_up:
                    raise
            await asyncio.sleep(0.2)

    async def join(self, players: Iterable[str]) -> None:
        """Players join and take the chaos quest (a lost reply's retry finds it already active)."""
        for player in players:
            await self.publish(PlayerJoined(player_id=player, name=player.title(), region="cindermouth"), player)
            self.players.append(player)
            try:
                await self.request(QuestAccept(player_id=player, quest_id=QUEST_ID))
            except RequestError as exc:
                if exc.code != "bad_request" or "already active" not in exc.message:
                    raise

    def collect(self, player: str) -> PlayerCollected:
        """One ember picked up: the quest's counter moves by one."""
        return PlayerCollected(player_id=player, item=ITEM, count=1)

    def story_event(self, index: int) -> Event:
        """A narrative beat or an NPC line, its text unique in the world."""
        if index % 2:
            return NpcSaid(npc_id="chaos-herald", text=f"chaos line {index} in {self.world}", tier="scripted")
        return NarrativeBeat(text=f"chaos beat {index} in {self.world}", kind="chaos")

    def buy(self, player: str, rng: random.Random) -> None:
        """Start a purchase with a new key in the background (see :meth:`purchases_done`)."""
        sku = rng.choice(sorted(CATALOG))
        key = f"{self.world}-{player}-buy-{len(self.purchases)}"
        purchase = self.purchases[key] = Purchase(key, player, sku, CATALOG[sku].amount_cents)
        task = asyncio.create_task(self._purchase(purchase))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _purchase(self, purchase: Purchase) -> None:
        request = PaymentPurchase(purchase_key=purchase.key, player_id=purchase.player, sku=purchase.sku)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 300.0
        while purchase.receipt is None:
            purchase.attempts += 1
            try:
                reply = await self.bus.request(frame_for(request, self.world, SOURCE), 3.0)
            except RequestError as exc:
                purchase.error = str(exc)
                if exc.code in REFUSED or loop.time() > give_up:
                    return
                await asyncio.sleep(0.2)
                continue
            if isinstance(reply.payload, PaymentReceipt):
                purchase.receipt, purchase.error = reply.payload, ""

    async def purchases_done(self, timeout: float) -> None:
        """Wait for every purchase to have its receipt (or to give up)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def traffic(self, stop: asyncio.Event, rate: float, rng: random.Random, *, buy_every: int = 15) -> None:
        """Send a steady mix until ``stop``: mostly ``player.collected``, story frames, a purchase now and then."""
        loop = asyncio.get_running_loop()
        started, step = loop.time(), 0
        while not stop.is_set():
            player = self.players[step % len(self.players)]
            if step % buy_every == buy_every - 1:
                self.buy(player, rng)
            if step % 3 == 2:
                await self.publish(self.story_event(step))
            else:
                await self.publish(self.collect(player), player)
            step += 1
            delay = started + step / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
