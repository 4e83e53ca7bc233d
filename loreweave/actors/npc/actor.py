"""NPC behaviour (npc-behavior): needs, a daily schedule, relationships and short-term memory.

Consumes: ``world.opened``/``closed``, ``npc.spawned``, ``clock.tick``, ``player.*`` (joined,
moved, left, spoke), ``weather.changed``, ``quest.accepted``/``completed``/``failed``,
``narrative.beat``, ``settings.changed``, ``qos.level_changed``. Answers ``npc.get_state``.
Emits: ``npc.moved``, ``npc.activity_changed``, ``npc.said``, ``npc.relationship_changed``,
``qos.sample`` after each line a model (not the script) wrote, and ``kb.observe`` for what an
NPC met, heard, did and saw (the ``lore`` actor keeps it as the NPC's long-term memory).
"""

from __future__ import annotations

from collections.abc import Hashable

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.npc.dialogue import DialogueRequest, DialogueWriter, Purpose, ScriptedDialogue
from loreweave.actors.npc.schedule import BAD_WEATHER, mood, plan, update_needs
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import Frame, LoreweaveError
from loreweave.schemas import (
    ClockTick,
    Event,
    NpcActivityChanged,
    NpcGetState,
    NpcMoved,
    NpcRelationshipChanged,
    NpcSaid,
    NpcSpawned,
    NarrativeBeat,
    NpcStateReply,
    PlayerJoined,
    PlayerLeft,
    PlayerMoved,
    PlayerSpoke,
    QosLevelChanged,
    QosSample,
    QuestAccepted,
    QuestCompleted,
    QuestFailed,
    SettingsChanged,
    WeatherChanged,
    WorldClosed,
    WorldOpened,
)
from loreweave.schemas.kb import MemoryObserved
from loreweave.schemas.npc import ScheduleKind, Standing

OUTDOOR_ROLES = frozenset({"farmer", "guard", "fisher", "ferryman", "shepherd", "diver", "miner", "smuggler"})
RUDE = ("idiot", "stupid", "shut up", "hate you", "liar")
STANDINGS: tuple[tuple[float, Standing], ...] = (
    (-0.5, "hostile"), (-0.15, "wary"), (0.25, "neutral"), (0.6, "friendly"), (1.01, "ally"),
)


def _speaker_or_player(frame: Frame) -> Hashable:
    """Speech is ordered per NPC (one conversation partner at a time); the rest per player."""
    payload = frame.payload
    if isinstance(payload, PlayerSpoke):
        return (frame.world, "npc", payload.npc_id)
    return (frame.world, "player", getattr(payload, "player_id", None))


def standing(value: float) -> Standing:
    """The band a relationship value falls in."""
    for upper, name in STANDINGS:
        if value < upper:
            return name
    return "ally"


class NpcRecord(BaseModel):
    """One NPC."""

    name: str
    role: str = "villager"
    region: str
    home: str
    work: str
    social: str
    schedule: ScheduleKind = "day"
    traits: list[str] = Field(default_factory=list)
    activity: str = "idle"
    needs: dict[str, float] = Field(default_factory=lambda: {"hunger": 0.3, "energy": 0.8, "social": 0.5})
    relationships: dict[str, float] = Field(default_factory=dict)
    memory: list[str] = Field(default_factory=list)
    greeted: dict[str, int] = Field(default_factory=dict, description="Player -> game minute last greeted.")
    turns: int = 0


class NpcWorld(BaseModel):
    """A world's NPCs and what they know of their surroundings."""

    npcs: dict[str, NpcRecord] = Field(default_factory=dict)
    neighbours: dict[str, list[str]] = Field(default_factory=dict)
    region_names: dict[str, str] = Field(default_factory=dict)
    weather: dict[str, str] = Field(default_factory=dict)
    players: dict[str, str] = Field(default_factory=dict, description="Online player -> region.")
    game_minutes: int = 0
    last_hour: int = -1
    content_rating: str = "teen"
    ai_tiers: list[str] = Field(default_factory=lambda: ["large", "small", "scripted"])
    qos: str = "full"
    chatter: float = 0.3


class NpcActorState(BaseModel):
    """Every world's NPCs."""

    worlds: dict[str, NpcWorld] = Field(default_factory=dict)


class Npc(GameActor[NpcActorState]):
    """Runs every NPC of every world.

    Args:
        writer: writes lines for non-scripted tiers (default: the script for every tier).
        memory_size: entries of short-term memory each NPC keeps.
        greet_cooldown_minutes: game minutes before an NPC greets the same player again.
        long_term_memory: also report each observation as ``kb.observe`` (for the ``lore`` actor).
        world_event_tension: a narrative beat with no region is remembered by every NPC of the
            world from this tension on (a beat in a region, by the NPCs there).
    """

    name = "npc"

    def __init__(
        self,
        *,
        seed: int = 0,
        writer: DialogueWriter | None = None,
        memory_size: int = 8,
        greet_cooldown_minutes: int = 180,
        heartbeat_s: float = 5.0,
        long_term_memory: bool = True,
        world_event_tension: float = 0.5,
    ) -> None:
        super().__init__(NpcActorState(), seed=seed, heartbeat_s=heartbeat_s)
        self.scripted = ScriptedDialogue(seed)
        self.writer: DialogueWriter = writer or self.scripted
        self.memory_size = memory_size
        self.greet_cooldown_minutes = greet_cooldown_minutes
        self.long_term_memory = long_term_memory
        self.world_event_tension = world_event_tension

    def _world(self, world: str) -> NpcWorld:
        return self.state.worlds.setdefault(world, NpcWorld())

    def _remember(self, w: NpcWorld, npc: NpcRecord, text: str) -> None:
        day, minute = divmod(w.game_minutes, 1440)
        npc.memory.append(f"d{day} {minute // 60:02d}:{minute % 60:02d} {text}")
        del npc.memory[: -self.memory_size]

    async def _observe(
        self, ctx: Context, w: NpcWorld, npc_id: str, npc: NpcRecord, text: str, kind: str, subject: str | None
    ) -> None:
        """Short-term memory (the NPC's state) and, unless disabled, a long-term memory via the lore actor."""
        self._remember(w, npc, text)
        if self.long_term_memory:
            place = w.region_names.get(npc.region, npc.region)
            await ctx.emit(
                MemoryObserved(owner=npc_id, text=f"{text} (at {place})"[:4000], kind=kind, subject=subject)
            )

    def _tier(self, w: NpcWorld) -> str:
        models = [tier for tier in w.ai_tiers if tier != "scripted"]
        if w.qos == "scripted" or not models:
            return "scripted"
        return models[0] if w.qos == "full" else models[-1]

    async def _say(
        self, ctx: Context, w: NpcWorld, npc_id: str, npc: NpcRecord, purpose: Purpose,
        player_id: str | None, text: str = "",
    ) -> None:
        npc.turns += 1
        value = npc.relationships.get(player_id, 0.0) if player_id else 0.0
        request = DialogueRequest(
            npc_id=npc_id, npc_name=npc.name, role=npc.role, purpose=purpose, mood=mood(npc.needs),
            standing=standing(value), player_id=player_id, player_text=text,
            place=w.region_names.get(npc.region, npc.region), weather=w.weather.get(npc.region, "clear"),
            memory=tuple(npc.memory[-3:]), traits=tuple(npc.traits), content_rating=w.content_rating,
            tier=self._tier(w), turn=npc.turns, world=ctx.frame.world,
        )
        writer = self.scripted if request.tier == "scripted" or purpose == "asleep" else self.writer
        line = await writer.line(request)
        fallback = next((n.partition(": ")[2][:200] for n in line.notes if n.startswith("fallback:")), "")
        await ctx.emit(NpcSaid(npc_id=npc_id, text=line.text, to_player=player_id, tier=line.tier, fallback=fallback))
        if line.tier != "scripted":
            await ctx.emit(QosSample(latency_ms=line.latency_ms, tier=line.tier))

    async def _relate(self, ctx: Context, npc_id: str, npc: NpcRecord, player_id: str, delta: float) -> None:
        before = npc.relationships.get(player_id, 0.0)
        after = round(max(-1.0, min(1.0, before + delta)), 3)
        npc.relationships[player_id] = after
        if standing(after) != standing(before):
            await ctx.emit(
                NpcRelationshipChanged(npc_id=npc_id, player_id=player_id, value=after, standing=standing(after))
            )

    @on("lw.*.world.opened")
    async def world_opened(self, event: WorldOpened, ctx: Context) -> None:
        """Learn the map, to wander it and name places."""
        w = self._world(ctx.frame.world)
        for region in event.regions:
            w.neighbours[region.id] = list(region.neighbours)
            w.region_names[region.id] = region.name or region.id

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @on("lw.*.npc.spawned")
    async def spawned(self, event: NpcSpawned, ctx: Context) -> None:
        """Take charge of a new NPC (a second spawn of the same id is ignored)."""
        w = self._world(ctx.frame.world)
        if event.npc_id in w.npcs:
            return
        home = event.home or event.region
        w.npcs[event.npc_id] = NpcRecord(
            name=event.name or event.npc_id, role=event.role, region=event.region, home=home,
            work=event.work or event.region, social=event.social or home, schedule=event.schedule,
            traits=list(event.traits),
        )

    @on("lw.*.clock.tick", key=lambda frame: frame.world)
    async def tick(self, event: ClockTick, ctx: Context) -> None:
        """Each new game hour: update needs, follow the schedule, move."""
        w = self._world(ctx.frame.world)
        w.game_minutes = event.game_minutes
        hour = event.game_minutes // 60
        hours = 1 if w.last_hour < 0 else min(hour - w.last_hour, 24)
        if hours <= 0:
            return
        w.last_hour = hour
        for npc_id in sorted(w.npcs):
            await self._live(ctx, w, npc_id, w.npcs[npc_id], event.hour, hours)

    async def _live(self, ctx: Context, w: NpcWorld, npc_id: str, npc: NpcRecord, hour: int, hours: int) -> None:
        npc.needs = update_needs(npc.needs, npc.activity, hours)
        outdoor = npc.role in OUTDOOR_ROLES or "outdoor" in npc.traits
        chosen = plan(npc.schedule, hour, npc.needs, w.weather.get(npc.region, "clear"), outdoor)
        if chosen.place == "roam":
            rng = self.rng(ctx.frame.world, npc_id)
            options = w.neighbours.get(npc.region, [])
            target = rng.choice(options) if options and rng.random() < 0.35 else npc.region
        else:
            target = {"home": npc.home, "work": npc.work, "social": npc.social}[chosen.place]
        if target != npc.region:
            previous, npc.region = npc.region, target
            await ctx.emit(NpcMoved(npc_id=npc_id, from_region=previous, to_region=target, activity=chosen.activity))
        if chosen.activity != npc.activity:
            npc.activity = chosen.activity
            await ctx.emit(
                NpcActivityChanged(npc_id=npc_id, activity=chosen.activity, region=npc.region, reason=chosen.reason)
            )

    @on("lw.*.player.*", key=_speaker_or_player)
    async def player_event(self, event: Event, ctx: Context) -> None:
        """Follow where players are (in order, per player) and answer them (in order, per NPC)."""
        if isinstance(event, PlayerSpoke):
            await self._spoke(event, ctx)
        elif isinstance(event, (PlayerJoined, PlayerMoved)):
            await self._arrive(ctx, event.player_id, event.region)
        elif isinstance(event, PlayerLeft):
            self._world(ctx.frame.world).players.pop(event.player_id, None)

    async def _arrive(self, ctx: Context, player_id: str, region: str) -> None:
        w = self._world(ctx.frame.world)
        w.players[player_id] = region
        awake = [
            npc_id for npc_id, npc in sorted(w.npcs.items())
            if npc.region == region and npc.activity != "sleep"
            and w.game_minutes - npc.greeted.get(player_id, -10**9) >= self.greet_cooldown_minutes
        ]
        if not awake:
            return
        rng = self.rng(ctx.frame.world, "greet", player_id)
        npc_id = rng.choice(awake)
        npc = w.npcs[npc_id]
        if rng.random() < w.chatter + 0.3 * max(0.0, npc.relationships.get(player_id, 0.0)):
            npc.greeted[player_id] = w.game_minutes
            await self._observe(ctx, w, npc_id, npc, f"I met {player_id} and greeted them", "met", player_id)
            await self._say(ctx, w, npc_id, npc, "greet", player_id)

    async def _spoke(self, event: PlayerSpoke, ctx: Context) -> None:
        """Answer a player: remember it, warm (or cool) to them, and say a line."""
        w = self._world(ctx.frame.world)
        npc = w.npcs.get(event.npc_id)
        if npc is None:
            return
        rude = any(word in event.text.lower() for word in RUDE)
        await self._observe(
            ctx, w, event.npc_id, npc, f"{event.player_id} said to me: \"{event.text[:300]}\"", "heard", event.player_id
        )
        npc.needs["social"] = min(1.0, npc.needs["social"] + 0.05)
        await self._relate(ctx, event.npc_id, npc, event.player_id, -0.2 if rude else 0.05)
        purpose: Purpose = "asleep" if npc.activity == "sleep" else "reply"
        await self._say(ctx, w, event.npc_id, npc, purpose, event.player_id, event.text)

    @on("lw.*.weather.changed", key=lambda frame: frame.world)
    async def weather_changed(self, event: WeatherChanged, ctx: Context) -> None:
        """Know the weather; NPCs caught in bad weather remember it."""
        w = self._world(ctx.frame.world)
        w.weather[event.region] = event.condition
        if event.condition in BAD_WEATHER:
            place = w.region_names.get(event.region, event.region)
            for npc_id, npc in sorted(w.npcs.items()):
                if npc.region == event.region:
                    await self._observe(ctx, w, npc_id, npc, f"{event.condition} over {place}", "weather", event.condition)

    @on("lw.*.quest.completed")
    async def quest_completed(self, event: QuestCompleted, ctx: Context) -> None:
        """The quest giver thanks the player and likes them more."""
        found = await self._giver_saw(ctx, event, f"{event.player_id} finished {event.quest_id}, the quest I gave")
        if found is not None:
            w, giver, npc = found
            await self._relate(ctx, giver, npc, event.player_id, 0.2)
            await self._say(ctx, w, giver, npc, "thanks", event.player_id)

    @on("lw.*.quest.failed")
    async def quest_failed(self, event: QuestFailed, ctx: Context) -> None:
        """The quest giver is disappointed."""
        found = await self._giver_saw(ctx, event, f"{event.player_id} failed {event.quest_id}, the quest I gave")
        if found is not None:
            _, giver, npc = found
            await self._relate(ctx, giver, npc, event.player_id, -0.1)

    @on("lw.*.quest.accepted")
    async def quest_accepted(self, event: QuestAccepted, ctx: Context) -> None:
        """The quest giver remembers who took the quest."""
        await self._giver_saw(ctx, event, f"{event.player_id} took on {event.quest_id} for me")

    async def _giver_saw(
        self, ctx: Context, event: QuestCompleted | QuestFailed | QuestAccepted, text: str
    ) -> tuple[NpcWorld, str, NpcRecord] | None:
        """The quest's giver, if an NPC of this world, remembers ``text``; returns its world, id and record."""
        w = self._world(ctx.frame.world)
        giver = event.giver
        npc = w.npcs.get(giver or "")
        if npc is None or giver is None:
            return None
        await self._observe(ctx, w, giver, npc, text, "quest", event.player_id)
        return w, giver, npc

    @on("lw.*.narrative.beat", key=lambda frame: frame.world)
    async def narrative_beat(self, event: NarrativeBeat, ctx: Context) -> None:
        """NPCs who were there (or everyone, for a tense world-wide beat) remember what happened."""
        w = self._world(ctx.frame.world)
        if event.region is None and event.tension < self.world_event_tension:
            return
        for npc_id, npc in sorted(w.npcs.items()):
            if event.region is None or npc.region == event.region:
                await self._observe(ctx, w, npc_id, npc, event.text[:1000], "world", event.kind)

    @on("lw.*.settings.changed")
    async def settings_changed(self, event: SettingsChanged, ctx: Context) -> None:
        """Follow content rating, tier preference and chattiness."""
        w = self._world(ctx.frame.world)
        w.content_rating = event.settings.content_rating
        w.ai_tiers = list(event.settings.ai_tiers)
        w.chatter = event.settings.npc_chatter

    @on("lw.*.qos.level_changed")
    async def qos_changed(self, event: QosLevelChanged, ctx: Context) -> None:
        """Follow the world's quality level (``scripted``: no model calls)."""
        self._world(ctx.frame.world).qos = event.level

    @reply("lw.rpc.*.npc.get_state")
    async def get_state(self, event: NpcGetState, ctx: Context) -> NpcStateReply:
        """An NPC's state."""
        npc = self.state.worlds.get(ctx.frame.world, NpcWorld()).npcs.get(event.npc_id)
        if npc is None:
            raise LoreweaveError("npc_id", f"unknown NPC {event.npc_id!r} in world {ctx.frame.world!r}")
        return NpcStateReply(
            npc_id=event.npc_id, name=npc.name, role=npc.role, region=npc.region, activity=npc.activity,
            needs=dict(npc.needs), relationships=dict(npc.relationships), memory=list(npc.memory),
        )
