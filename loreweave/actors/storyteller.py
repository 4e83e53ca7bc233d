"""The storyteller (story-teller, storyteller): a tension curve per world, beats and quest hooks.

Tension follows a target arc over ``arc_days`` game days (rising to a climax and falling),
scaled by the world's ``storyteller_intensity`` setting; events push it (a storm or a
failed quest up, a completed quest down) and each game hour it relaxes towards the target.
Notable events become beats (``max_beats_per_hour`` at most, chapters and conflicts always);
when tension sags the storyteller hooks players on a quest. Every beat is emitted while
handling the frame that caused it, so its causation id leads back to that event.

Consumes: ``world.opened``/``closed``/``region_claimed``, ``player.*`` (joined, left),
``quest.available``/``completed``/``failed``, ``weather.changed``, ``clock.tick``,
``clock.dusk``, ``clock.season``, ``settings.changed``.
Emits: ``narrative.beat``, ``narrative.hook``.
"""

from __future__ import annotations

import math
import random

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, frame_for, on
from loreweave.protocol import LoreweaveError
from loreweave.schemas.kb import LoreContextRequest
from loreweave.schemas import (
    ClockDusk,
    ClockSeason,
    ClockTick,
    Event,
    NarrativeBeat,
    NarrativeHook,
    PlayerJoined,
    PlayerLeft,
    QuestAvailable,
    QuestCompleted,
    QuestFailed,
    SettingsChanged,
    WeatherChanged,
    WorldClosed,
    WorldOpened,
    WorldRegionClaimed,
)

_ARRIVALS = (
    "{player} comes into {place}, road dust still on their boots.",
    "A stranger called {player} is seen in {place}.",
    "{player} arrives in {place}; the gossips take note.",
)
_COMPLETED = (
    "Word spreads through {place}: {player} has seen \"{title}\" through.",
    "\"{title}\" is done, and {player}'s name is spoken with respect.",
)
_FAILED = (
    "\"{title}\" slipped through {player}'s fingers ({reason}). Someone will pay for it.",
    "The Reach remembers failures: {player} did not finish \"{title}\".",
)
_HOOKS = (
    "In {place}, they whisper about \"{title}\". Someone should look into it.",
    "A notice is nailed up in {place}: \"{title}\". {summary}",
)


def _by_world(frame: object) -> str:
    return frame.world  # type: ignore[attr-defined]


class QuestInfo(BaseModel):
    """What the storyteller knows of a quest."""

    title: str
    region: str | None = None
    summary: str = ""


class StoryWorld(BaseModel):
    """One world's story so far."""

    tension: float = 0.2
    game_minutes: int = 0
    last_hour: int = -1
    hour_beats: int = 0
    last_hook_hour: int = -1_000
    climax: bool = False
    intensity: float = 0.5
    hooked: dict[str, int] = Field(default_factory=dict, description="Quest -> game hour last hooked.")
    quests: dict[str, QuestInfo] = Field(default_factory=dict)
    region_names: dict[str, str] = Field(default_factory=dict)
    players: dict[str, str] = Field(default_factory=dict, description="Online player -> name.")


class StoryState(BaseModel):
    """Every world's story."""

    worlds: dict[str, StoryWorld] = Field(default_factory=dict)


def target_tension(game_minutes: int, arc_days: float, intensity: float) -> float:
    """Where the arc wants tension to be: low at an arc's start and end, highest midway."""
    progress = (game_minutes / (arc_days * 1440)) % 1.0
    return round(0.15 + (0.35 + 0.4 * intensity) * math.sin(math.pi * progress), 4)


class Storyteller(GameActor[StoryState]):
    """Watches a world and tells its story.

    Args:
        arc_days: game days of one rise-and-fall of tension.
        max_beats_per_hour: beats per game hour beyond which ordinary events only move tension.
        hook_below: tension under which a quest hook is offered (at most every ``hook_every_hours``).
    """

    name = "storyteller"

    def __init__(
        self,
        *,
        seed: int = 0,
        arc_days: float = 3.0,
        max_beats_per_hour: int = 6,
        hook_below: float = 0.35,
        hook_every_hours: int = 6,
        heartbeat_s: float = 5.0,
        lore_timeout_s: float | None = None,
    ) -> None:
        super().__init__(StoryState(), seed=seed, heartbeat_s=heartbeat_s)
        #: When set, each beat asks the knowledge base (``lw.rpc.<world>.kb.context``) for a lore
        #: fact to weave in, waiting at most this long.
        self.lore_timeout_s = lore_timeout_s
        self.arc_days = arc_days
        self.max_beats_per_hour = max_beats_per_hour
        self.hook_below = hook_below
        self.hook_every_hours = hook_every_hours

    def _world(self, world: str) -> StoryWorld:
        return self.state.worlds.setdefault(world, StoryWorld())

    def _pick(self, world: str, options: tuple[str, ...]) -> str:
        return self.rng(world, "story").choice(options)

    @staticmethod
    def _push(w: StoryWorld, delta: float) -> None:
        w.tension = round(min(1.0, max(0.0, w.tension + delta)), 4)

    async def _beat(
        self, ctx: Context, w: StoryWorld, text: str, kind: str, *tags: str, region: str | None = None,
        always: bool = False,
    ) -> None:
        if not always and w.hour_beats >= self.max_beats_per_hour:
            return
        w.hour_beats += 1
        if self.lore_timeout_s is not None:
            fact = await self._lore_fact(ctx.frame.world, text)
            if fact is not None:
                title, sentence = fact
                text = f"{text} The old tales of {title} tell it so: \"{sentence}\""
                tags = (*tags, f"lore:{title}")
        await ctx.emit(NarrativeBeat(text=text, tension=w.tension, tags=list(tags), kind=kind, region=region))

    async def _lore_fact(self, world: str, about: str) -> tuple[str, str] | None:
        """The title and first sentence of the lore chunk nearest to ``about``, if the lore actor answers.

        Asks ``kb.context``, which also gives the current version of every concept the lore names:
        a lore sentence that names a concept story events have changed since (a deposed ruler's old
        title) is not quoted; the concept's current summary is told instead.
        """
        assert self.lore_timeout_s is not None
        request = LoreContextRequest(query=about[:2000], lore_k=1, memory_k=0, events_k=0)
        try:
            reply = await self.bus.request(frame_for(request, world, self.name), timeout=self.lore_timeout_s)
        except LoreweaveError:  # no lore actor, unknown world, too slow: tell the beat without it
            return None
        context = reply.payload.context
        hits = context.get("lore") or []
        if not hits:
            return None
        sentence = str(hits[0].get("text", "")).replace("\n", " ").split(". ")[0].strip().rstrip(".")[:240]
        for concept in context.get("concepts") or []:
            name = str(concept.get("name", ""))
            if int(concept.get("version", 1)) > 1 and name and name.lower() in sentence.lower():
                return name, str(concept.get("summary", "")).strip()[:240]
        return (str(hits[0].get("title") or "the world"), sentence + ".") if sentence else None

    def _place(self, w: StoryWorld, region: str | None) -> str:
        return w.region_names.get(region or "", region or "the Reach")

    @on("lw.*.world.opened", key=_by_world)
    async def world_opened(self, event: WorldOpened, ctx: Context) -> None:
        """Learn the map and open the tale."""
        w = self._world(ctx.frame.world)
        w.region_names.update({region.id: region.name or region.id for region in event.regions})
        title = event.title or "this world"
        await self._beat(ctx, w, f"The tale of {title} begins. {len(event.regions)} lands wait for their heroes.",
                         "opening", "opening", always=True)

    @on("lw.*.world.closed", key=_by_world)
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @on("lw.*.player.*", key=_by_world)
    async def player_event(self, event: Event, ctx: Context) -> None:
        """Arrivals add a little tension and a beat; departures quieten the story."""
        w = self._world(ctx.frame.world)
        if isinstance(event, PlayerJoined):
            w.players[event.player_id] = event.name or event.player_id
            self._push(w, 0.02)
            text = self._pick(ctx.frame.world, _ARRIVALS).format(
                player=w.players[event.player_id], place=self._place(w, event.region))
            await self._beat(ctx, w, text, "arrival", "player", region=event.region or None)
        elif isinstance(event, PlayerLeft):
            w.players.pop(event.player_id, None)
            self._push(w, -0.01)

    @on("lw.*.quest.available", key=_by_world)
    async def quest_available(self, event: QuestAvailable, ctx: Context) -> None:
        """Remember a quest to hook players on later."""
        self._world(ctx.frame.world).quests[event.quest_id] = QuestInfo(
            title=event.title, region=event.region, summary=event.summary)

    @on("lw.*.quest.completed", key=_by_world)
    async def quest_completed(self, event: QuestCompleted, ctx: Context) -> None:
        """Relief: tension eases, and the deed is told."""
        w = self._world(ctx.frame.world)
        self._push(w, -0.06)
        title = w.quests[event.quest_id].title if event.quest_id in w.quests else event.quest_id
        text = self._pick(ctx.frame.world, _COMPLETED).format(
            player=w.players.get(event.player_id, event.player_id), title=title, place=self._place(w, event.region))
        await self._beat(ctx, w, text, "quest", "quest", "completed", region=event.region)

    @on("lw.*.quest.failed", key=_by_world)
    async def quest_failed(self, event: QuestFailed, ctx: Context) -> None:
        """A failure raises the stakes."""
        w = self._world(ctx.frame.world)
        self._push(w, 0.08)
        title = w.quests[event.quest_id].title if event.quest_id in w.quests else event.quest_id
        text = self._pick(ctx.frame.world, _FAILED).format(
            player=w.players.get(event.player_id, event.player_id), title=title, reason=event.reason)
        await self._beat(ctx, w, text, "quest", "quest", "failed", region=event.region)

    @on("lw.*.weather.changed", key=_by_world)
    async def weather_changed(self, event: WeatherChanged, ctx: Context) -> None:
        """Storms raise tension and are worth a beat; fair weather eases it."""
        w = self._world(ctx.frame.world)
        self._push(w, {"storm": 0.1, "snow": 0.03, "clear": -0.02}.get(event.condition, 0.0))
        if event.condition == "storm":
            await self._beat(ctx, w, f"A storm breaks over {self._place(w, event.region)}.", "weather",
                             "weather", "storm", region=event.region)

    @on("lw.*.world.region_claimed", key=_by_world)
    async def region_claimed(self, event: WorldRegionClaimed, ctx: Context) -> None:
        """Conflict: a region changes hands."""
        w = self._world(ctx.frame.world)
        self._push(w, 0.15)
        await self._beat(ctx, w, f"The banners of {event.faction} now fly over {self._place(w, event.region)}.",
                         "conflict", "faction", region=event.region, always=True)

    @on("lw.*.clock.tick", key=_by_world)
    async def tick(self, event: ClockTick, ctx: Context) -> None:
        """Each game hour: relax towards the arc, mark a climax or its resolution, maybe hook a quest."""
        w = self._world(ctx.frame.world)
        w.game_minutes = event.game_minutes
        hour = event.game_minutes // 60
        if hour == w.last_hour:
            return
        w.last_hour, w.hour_beats = hour, 0
        target = target_tension(event.game_minutes, self.arc_days, w.intensity)
        self._push(w, (target - w.tension) * 0.15)
        if w.tension >= 0.7 and not w.climax:
            w.climax = True
            await self._beat(ctx, w, "Everything in the Reach seems to hold its breath.", "climax", "tension",
                             always=True)
        elif w.tension < 0.5 and w.climax:
            w.climax = False
            await self._beat(ctx, w, "The worst has passed; the Reach breathes again.", "resolution", "tension",
                             always=True)
        if w.tension < self.hook_below and hour - w.last_hook_hour >= self.hook_every_hours:
            await self._hook(ctx, w, hour, self.rng(ctx.frame.world, "hooks"))

    async def _hook(self, ctx: Context, w: StoryWorld, hour: int, rng: random.Random) -> None:
        fresh = sorted(qid for qid in w.quests if hour - w.hooked.get(qid, -10_000) >= 48)
        if not fresh:
            return
        quest_id = rng.choice(fresh)
        quest = w.quests[quest_id]
        w.hooked[quest_id] = w.last_hook_hour = hour
        text = rng.choice(_HOOKS).format(place=self._place(w, quest.region), title=quest.title, summary=quest.summary)
        await ctx.emit(NarrativeHook(
            quest_id=quest_id, title=quest.title, text=text.strip(), region=quest.region, tension=w.tension))

    @on("lw.*.clock.dusk", key=_by_world)
    async def dusk(self, event: ClockDusk, ctx: Context) -> None:
        """A chapter closes at every dusk."""
        w = self._world(ctx.frame.world)
        mood = "tense" if w.tension >= 0.5 else "uneasy" if w.tension >= 0.3 else "quiet"
        await self._beat(
            ctx, w, f"Dusk on day {event.day + 1}. The {event.season} evening is {mood}; "
            f"{len(w.players)} travellers are abroad in the Reach.", "chapter", "chapter", always=True)

    @on("lw.*.clock.season", key=_by_world)
    async def season(self, event: ClockSeason, ctx: Context) -> None:
        """A new season turns the page."""
        w = self._world(ctx.frame.world)
        await self._beat(ctx, w, f"{event.previous.capitalize()} gives way to {event.season}.", "season", "season",
                         always=True)

    @on("lw.*.settings.changed", key=_by_world)
    async def settings_changed(self, event: SettingsChanged, ctx: Context) -> None:
        """Follow ``storyteller_intensity``."""
        self._world(ctx.frame.world).intensity = event.settings.storyteller_intensity
