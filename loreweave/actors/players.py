"""Players (state-manager): sessions, profiles, locations, and who is near whom.

A session opens on ``player.joined`` and ends on ``player.left`` or when no heartbeat (or
other sign of life) came for ``session_timeout_s``; then the actor itself emits
``player.left`` with reason ``timeout`` so every other actor sees the player go.

Consumes: ``player.*`` (joined, left, moved; any other keeps the session alive),
``quest.completed`` (rewards),
``world.closed``. Answers ``player.get_profile`` and ``player.get_nearby``.
Emits: ``player.met`` (a player arrived where others are), ``player.left`` (timeouts).
"""

from __future__ import annotations

import heapq
import time

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, every, on, reply
from loreweave.protocol import LoreweaveError
from loreweave.schemas import (
    Event,
    PlayerGetNearby,
    PlayerGetProfile,
    PlayerJoined,
    PlayerLeft,
    PlayerMet,
    PlayerMoved,
    PlayerNearby,
    PlayerProfile,
    QuestCompleted,
    WorldClosed,
)

#: Most player ids listed in one ``player.met``.
MAX_MET = 16


class PlayerRecord(BaseModel):
    """A player's profile and session."""

    name: str = ""
    locale: str = "en"
    region: str = ""
    online: bool = False
    last_seen: float = Field(default=0.0, description="Unix time of the last sign of life.")
    sessions: int = 0
    xp: int = 0
    gold: int = 0
    items: dict[str, int] = Field(default_factory=dict)
    quests_completed: int = 0


class PlayersState(BaseModel):
    """World -> player id -> record."""

    worlds: dict[str, dict[str, PlayerRecord]] = Field(default_factory=dict)


class RegionIndex:
    """Online players by world and region, so "who is near" reads one region's set, not every player.

    Derived from the state: a world's entry is rebuilt whenever its players' dict is not the
    one it was built from (the state was restored or the world reloaded), and every change of
    a record's ``online`` or ``region`` goes through :meth:`place`.
    """

    def __init__(self) -> None:
        # The players' dict itself is kept (not its id, which a new dict could reuse).
        self._worlds: dict[str, tuple[dict[str, PlayerRecord], dict[str, set[str]]]] = {}

    def regions(self, world: str, players: dict[str, PlayerRecord]) -> dict[str, set[str]]:
        """Region -> online player ids of ``world`` (rebuilt from ``players`` when they were replaced)."""
        entry = self._worlds.get(world)
        if entry is None or entry[0] is not players:
            regions: dict[str, set[str]] = {}
            for player_id, record in players.items():
                if record.online:
                    regions.setdefault(record.region, set()).add(player_id)
            entry = self._worlds[world] = (players, regions)
        return entry[1]

    def place(
        self, world: str, players: dict[str, PlayerRecord], player_id: str, *, online: bool, region: str
    ) -> None:
        """Set a player's ``online`` and ``region`` in the record and in the index together."""
        record = players[player_id]
        regions = self.regions(world, players)
        if record.online:
            members = regions.get(record.region)
            if members is not None:
                members.discard(player_id)
                if not members:
                    del regions[record.region]
        record.online, record.region = online, region
        if online:
            regions.setdefault(region, set()).add(player_id)

    def near(self, world: str, players: dict[str, PlayerRecord], player_id: str, region: str,
             limit: int | None = None) -> list[str]:
        """The other online players in ``region``, sorted by id (the first ``limit`` of them)."""
        members = self.regions(world, players).get(region, ())
        others = (other for other in members if other != player_id)
        return heapq.nsmallest(limit, others) if limit is not None else sorted(others)

    def forget(self, world: str) -> None:
        """Drop a world's entry."""
        self._worlds.pop(world, None)


class Players(GameActor[PlayersState]):
    """Tracks sessions and profiles.

    Args:
        session_timeout_s: real seconds without a sign of life before a session times out.
        sweep_s: how often timeouts are checked.
    """

    name = "players"

    def __init__(
        self, *, seed: int = 0, session_timeout_s: float = 60.0, sweep_s: float = 1.0, heartbeat_s: float = 5.0
    ) -> None:
        super().__init__(PlayersState(), seed=seed, heartbeat_s=heartbeat_s)
        self.session_timeout_s = session_timeout_s
        self.regions = RegionIndex()
        self.set_interval("sweep", sweep_s)

    def _players(self, world: str) -> dict[str, PlayerRecord]:
        return self.state.worlds.setdefault(world, {})

    def _near(self, world: str, player_id: str, region: str, limit: int | None = None) -> list[str]:
        return self.regions.near(world, self._players(world), player_id, region, limit)

    def _place(self, world: str, player_id: str, *, online: bool, region: str) -> None:
        self.regions.place(world, self._players(world), player_id, online=online, region=region)

    async def _arrive(self, ctx: Context, player_id: str, region: str) -> None:
        if not region:
            return
        others = self._near(ctx.frame.world, player_id, region, MAX_MET)
        if others:
            await ctx.emit(PlayerMet(player_id=player_id, region=region, others=others))

    @on("lw.*.player.*", key="player_id")
    async def player_event(self, event: Event, ctx: Context) -> None:
        """Sessions and locations; one handler keeps a player's joins, moves and leaves in order.

        Any frame from a player (speaking, collecting...) keeps the session alive.
        """
        if isinstance(event, PlayerJoined):
            await self._joined(event, ctx)
        elif isinstance(event, PlayerLeft):
            record = self._players(ctx.frame.world).get(event.player_id)
            if record is not None:
                self._place(ctx.frame.world, event.player_id, online=False, region=record.region)
        elif isinstance(event, PlayerMoved):
            await self._moved(event, ctx)
        elif not isinstance(event, PlayerMet) and ctx.frame.source != self.name:
            record = self._players(ctx.frame.world).get(event.player_id)  # type: ignore[attr-defined]
            if record is not None:
                record.last_seen = time.time()

    async def _joined(self, event: PlayerJoined, ctx: Context) -> None:
        record = self._players(ctx.frame.world).setdefault(event.player_id, PlayerRecord())
        was_online = record.online
        record.name = event.name or record.name or event.player_id
        record.locale = event.locale
        self._place(ctx.frame.world, event.player_id, online=True, region=event.region or record.region)
        record.last_seen = time.time()
        if not was_online:
            record.sessions += 1
            await self._arrive(ctx, event.player_id, record.region)

    async def _moved(self, event: PlayerMoved, ctx: Context) -> None:
        record = self._players(ctx.frame.world).setdefault(event.player_id, PlayerRecord(name=event.player_id))
        record.last_seen = time.time()
        if record.region == event.region:
            return
        self._place(ctx.frame.world, event.player_id, online=record.online, region=event.region)
        if record.online:
            await self._arrive(ctx, event.player_id, event.region)

    @on("lw.*.quest.completed")
    async def quest_completed(self, event: QuestCompleted, ctx: Context) -> None:
        """Add a quest's rewards to the profile."""
        record = self._players(ctx.frame.world).setdefault(event.player_id, PlayerRecord(name=event.player_id))
        record.xp += event.rewards.xp
        record.gold += event.rewards.gold
        record.quests_completed += 1
        for item in event.rewards.items:
            record.items[item] = record.items.get(item, 0) + 1

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world's players."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.regions.forget(ctx.frame.world)
        self.forget_world(ctx.frame.world)

    @every(1.0)
    async def sweep(self) -> None:
        """End the sessions that went silent for longer than the timeout."""
        cutoff = time.time() - self.session_timeout_s
        for world, players in list(self.state.worlds.items()):
            for player_id, record in list(players.items()):
                if record.online and record.last_seen < cutoff:
                    self.regions.place(world, players, player_id, online=False, region=record.region)
                    await self.publish(PlayerLeft(player_id=player_id, reason="timeout"), world)

    def _record(self, world: str, player_id: str) -> PlayerRecord:
        record = self.state.worlds.get(world, {}).get(player_id)
        if record is None:
            raise LoreweaveError("player_id", f"unknown player {player_id!r} in world {world!r}")
        return record

    @reply("lw.rpc.*.player.get_profile")
    async def get_profile(self, event: PlayerGetProfile, ctx: Context) -> PlayerProfile:
        """A player's profile."""
        record = self._record(ctx.frame.world, event.player_id)
        return PlayerProfile(player_id=event.player_id, **record.model_dump(exclude={"last_seen"}))

    @reply("lw.rpc.*.player.get_nearby")
    async def get_nearby(self, event: PlayerGetNearby, ctx: Context) -> PlayerNearby:
        """The online players in the same region."""
        record = self._record(ctx.frame.world, event.player_id)
        return PlayerNearby(
            player_id=event.player_id, region=record.region,
            players=self._near(ctx.frame.world, event.player_id, record.region),
        )
