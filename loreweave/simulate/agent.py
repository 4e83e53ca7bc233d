"""A simulated player: joins, wanders, talks to NPCs, takes and finishes quests, buys, leaves."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client

from loreweave.actors.runtime import Bus, RequestError, frame_for
from loreweave.protocol.headers import MSG_ID
from loreweave.schemas import (
    Event,
    PaymentPurchase,
    PaymentRefund,
    PlayerCollected,
    PlayerDefeated,
    PlayerHeartbeat,
    PlayerJoined,
    PlayerLeft,
    PlayerMoved,
    PlayerSpoke,
    QuestAbandon,
    QuestAccept,
    QuestGetJournal,
    QuestProgress,
    VersionAnnounced,
)
from loreweave.simulate.frames import FrameTemplates
from loreweave.simulate.observer import SOURCE, Observer
from loreweave.simulate.world_map import FOES, ITEMS, LOCALES, NPCS, SHOP, neighbours, next_step

logger = logging.getLogger(__name__)
LINES = (
    "Any news from the river?", "What do you know about the lantern?", "Good day!",
    "Where can I find eels?", "Is the road to Cindermouth safe?", "Tell me about the Drowned Mother.",
    "You are an idiot.",
)
HEARTBEAT_S = 3.0


@dataclass
class ServerStats:
    """What the simulated game server did."""

    sent: int = 0
    requests: int = 0
    request_errors: dict[str, int] = field(default_factory=dict)
    online: int = 0
    joins: int = 0
    accepted: int = 0
    purchases: int = 0
    refunds: int = 0
    agent_errors: int = 0


class GameServer:
    """Publishes a world's frames and sends its requests, noting each for the observer.

    With ``wire`` (a connection of its own, ``no_echo``, that the observer listens on), events
    go out as pre-encoded frames (:mod:`loreweave.simulate.frames`) and the server's own
    frames are not delivered back to it: the simulator stays cheap next to the actors.
    """

    def __init__(
        self, bus: Bus, world: str, observer: Observer, timeout_s: float = 3.0, *, wire: Client | None = None
    ) -> None:
        self.bus = bus
        self.world = world
        self.observer = observer
        self.timeout_s = timeout_s
        self.stats = ServerStats()
        self.wire = wire
        self.templates = FrameTemplates(world, SOURCE)

    async def send(self, event: Event) -> None:
        """Publish an event as the game server."""
        if self.wire is None:
            frame = frame_for(event, self.world, SOURCE)
            self.observer.sent(frame.id)
            self.stats.sent += 1
            await self.bus.publish(frame)
            return
        template = self.templates.template(event)
        frame_id, data = template.stamp()
        self.observer.sent(frame_id)
        self.stats.sent += 1
        await self.wire.publish(template.subject, data, headers={MSG_ID: frame_id})

    async def ask(self, request: Event, *, optional: bool = False) -> Any:
        """Send a request; return the reply's payload, or ``None`` after counting the error.

        With ``optional``, nobody answering (that actor is not deployed) is not an error.
        """
        frame = frame_for(request, self.world, SOURCE)
        self.stats.requests += 1
        started = time.perf_counter()
        try:
            reply = await self.bus.request(frame, self.timeout_s)
        except RequestError as exc:
            if optional and exc.code == "no_responders":
                self.stats.requests -= 1
                return None
            self.stats.request_errors[exc.code] = self.stats.request_errors.get(exc.code, 0) + 1
            return None
        self.observer.request_ms.append((time.perf_counter() - started) * 1000)
        return reply.payload


class PlayerAgent:
    """One player's behaviour, all of its choices drawn from its own seeded stream."""

    def __init__(self, server: GameServer, player_id: str, seed: int, think_s: float, deadline: float) -> None:
        self.server = server
        self.player_id = player_id
        self.rng = random.Random(f"{seed}:{player_id}")
        self.think_s = think_s
        self.deadline = deadline
        self.map = neighbours()
        self.region = self.rng.choice(sorted(self.map))
        self.locale = self.rng.choice(LOCALES)
        self.quest: QuestProgress | None = None
        self.done: dict[str, int] = {}
        self.quest_since = 0.0
        self.journal_after = 0.0
        self.bought = 0

    async def run(self, start_delay: float) -> None:
        """Play until the deadline, then leave."""
        await asyncio.sleep(start_delay)
        if time.perf_counter() >= self.deadline:
            return
        await self.join()
        next_heartbeat = time.perf_counter() + HEARTBEAT_S
        while True:
            await asyncio.sleep(min(max(0.02, self.rng.expovariate(1 / self.think_s)), 5 * self.think_s))
            now = time.perf_counter()
            if now >= self.deadline:
                break
            if now >= next_heartbeat:
                next_heartbeat = now + HEARTBEAT_S
                await self.server.send(PlayerHeartbeat(player_id=self.player_id))
            await self.act()
        await self.leave("quit")

    async def join(self) -> None:
        """Enter the world and announce the client's versions."""
        server = self.server
        server.stats.online += 1
        server.stats.joins += 1
        await server.send(PlayerJoined(player_id=self.player_id, name=f"Traveller {self.player_id[1:]}",
                                       region=self.region, locale=self.locale))
        build = "0.9.2" if self.rng.random() < 0.05 else "1.4.2"
        await server.send(VersionAnnounced(component="client", component_id=f"client-{self.player_id}",
                                           build=build, protocol="1.0", engine="UE 5.4"))

    async def leave(self, reason: str) -> None:
        """Leave the world."""
        self.server.stats.online -= 1
        await self.server.send(PlayerLeft(player_id=self.player_id, reason=reason))

    async def act(self) -> None:
        """One action, chosen at random with fixed weights."""
        roll = self.rng.random()
        if roll < 0.04:
            await self.buy()
        elif roll < 0.06 and time.perf_counter() + 6 * self.think_s < self.deadline:
            await self.leave("quit")
            await asyncio.sleep(self.rng.uniform(1, 3) * self.think_s)
            await self.join()
        elif roll < 0.6:
            await self.work_on_quest()
        elif roll < 0.8:
            await self.move(self.rng.choice(self.map[self.region]))
        else:
            await self.talk()

    async def move(self, region: str) -> None:
        """Walk to a neighbouring region."""
        if region != self.region:
            self.region = region
            await self.server.send(PlayerMoved(player_id=self.player_id, region=region))

    async def talk(self, npc_id: str | None = None) -> None:
        """Say something to an NPC here (or to ``npc_id``)."""
        here = [npc.npc_id for npc in NPCS if self._npc_region(npc.npc_id) == self.region]
        if npc_id is None and not here:
            await self.move(self.rng.choice(self.map[self.region]))
            return
        await self.server.send(PlayerSpoke(player_id=self.player_id, npc_id=npc_id or self.rng.choice(here),
                                           text=self.rng.choice(LINES)))

    def _npc_region(self, npc_id: str) -> str:
        known = self.server.observer.npc_regions.get(npc_id)
        return known or next(npc.region for npc in NPCS if npc.npc_id == npc_id)

    async def buy(self) -> None:
        """Buy an item; sometimes repeat the request (idempotency) or ask for a refund."""
        self.bought += 1
        request = PaymentPurchase(
            purchase_key=f"{self.player_id}-purchase-{self.bought}", player_id=self.player_id,
            sku=self.rng.choice(SHOP), payment_method="test-decline" if self.rng.random() < 0.1 else "test-ok",
        )
        receipt = await self.server.ask(request)
        if receipt is None:
            return
        self.server.stats.purchases += 1
        if self.rng.random() < 0.1:
            await self.server.ask(request)
        if receipt.status == "succeeded" and self.rng.random() < 0.15:
            self.server.stats.refunds += 1
            await self.server.ask(PaymentRefund(purchase_id=receipt.purchase_id, reason="changed my mind"))

    async def work_on_quest(self) -> None:
        """Take a quest if none is active, else work towards its next objective."""
        if self.quest is None:
            await self._take_quest()
            return
        key = (self.player_id, self.quest.quest_id)
        if key in self.server.observer.quest_outcomes or time.perf_counter() - self.quest_since > 60 * self.think_s:
            self.quest = None
            return
        if self.rng.random() < 0.02:
            await self.server.ask(QuestAbandon(player_id=self.player_id, quest_id=self.quest.quest_id))
            self.quest = None
            return
        pending = [o for o in self.quest.objectives if self.done.get(o.id, 0) < o.count]
        if not pending:
            await self.move(self.rng.choice(self.map[self.region]))
            return
        objective = pending[0]
        if objective.kind == "visit":
            if self.region == objective.target:  # step out, so that coming back counts
                await self.move(self.rng.choice(self.map[self.region]))
                return
            await self.move(next_step(self.region, objective.target))
            if self.region == objective.target:
                self.done[objective.id] = self.done.get(objective.id, 0) + 1
        elif objective.kind == "talk":
            where = self._npc_region(objective.target)
            if where != self.region:
                await self.move(next_step(self.region, where))
                return
            await self.talk(objective.target)
            self.done[objective.id] = self.done.get(objective.id, 0) + 1
        elif objective.kind == "collect":
            await self.server.send(PlayerCollected(player_id=self.player_id, item=objective.target))
            self.done[objective.id] = self.done.get(objective.id, 0) + 1
        else:
            await self.server.send(PlayerDefeated(player_id=self.player_id, target=objective.target))
            self.done[objective.id] = self.done.get(objective.id, 0) + 1

    async def _take_quest(self) -> None:
        now = time.perf_counter()
        if now < self.journal_after:
            if self.rng.random() < 0.5:
                await self.server.send(PlayerCollected(player_id=self.player_id, item=self.rng.choice(ITEMS)))
            else:
                await self.server.send(PlayerDefeated(player_id=self.player_id, target=self.rng.choice(FOES)))
            return
        journal = await self.server.ask(QuestGetJournal(player_id=self.player_id))
        if journal is None or not journal.available:
            self.journal_after = now + 10 * self.think_s
            return
        quest_id = self.rng.choice(journal.available)
        self.server.observer.quest_outcomes.pop((self.player_id, quest_id), None)
        status = await self.server.ask(QuestAccept(player_id=self.player_id, quest_id=quest_id))
        if status is not None:
            self.server.stats.accepted += 1
            self.quest, self.done, self.quest_since = status.quest, {}, time.perf_counter()
