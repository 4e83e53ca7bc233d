"""Language (language-system): NPC speech and narrative in each player's locale.

A line spoken to one player is localised for that player; narrative and lines to the room
are localised once per locale (other than English) of the players online. Names of the
world's places, factions and NPCs form the glossary and are never translated.

Consumes: ``world.opened``/``closed``, ``npc.spawned``, ``language.glossary_added``,
``player.*`` (joined, left), ``npc.said``, ``narrative.*``. Answers ``language.translate``.
Emits: ``language.localized``.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.language.translate import PhrasebookTranslator, Translator, base_locale
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import LoreweaveError
from loreweave.schemas import (
    Event,
    LanguageGlossaryAdded,
    LanguageLocalized,
    LanguageTranslate,
    LanguageTranslation,
    NarrativeAmbience,
    NpcSaid,
    NpcSpawned,
    PlayerJoined,
    PlayerLeft,
    WorldClosed,
    WorldOpened,
)

SOURCE_LOCALE = "en"


def _by_world(frame: object) -> str:
    return frame.world  # type: ignore[attr-defined]


class LanguageWorld(BaseModel):
    """One world's players' locales and lore glossary."""

    locales: dict[str, str] = Field(default_factory=dict, description="Online player -> locale.")
    glossary: list[str] = Field(default_factory=list)


class LanguageState(BaseModel):
    """Every world's locales and glossary."""

    worlds: dict[str, LanguageWorld] = Field(default_factory=dict)


class Language(GameActor[LanguageState]):
    """Localises speech and narrative.

    Args:
        translator: the translation backend (default: the built-in phrasebooks).
        glossary: lore terms protected in every world, besides those learnt from events.
    """

    name = "language"

    def __init__(
        self,
        *,
        seed: int = 0,
        translator: Translator | None = None,
        glossary: Iterable[str] = (),
        heartbeat_s: float = 5.0,
    ) -> None:
        super().__init__(LanguageState(), seed=seed, heartbeat_s=heartbeat_s)
        self.translator: Translator = translator or PhrasebookTranslator()
        self.glossary = sorted(set(glossary))

    def _world(self, world: str) -> LanguageWorld:
        return self.state.worlds.setdefault(world, LanguageWorld())

    def _learn(self, world: str, terms: Iterable[str | None]) -> None:
        w = self._world(world)
        w.glossary = sorted({*w.glossary, *(term.strip() for term in terms if term and term.strip())})

    async def _localize(
        self, ctx: Context, text: str, locales: Iterable[str], player_id: str | None = None
    ) -> None:
        w = self._world(ctx.frame.world)
        for locale in sorted(set(locales)):
            if base_locale(locale) == SOURCE_LOCALE or not self.translator.supports(locale):
                continue
            result = await self.translator.translate(text, locale, [*self.glossary, *w.glossary])
            await ctx.emit(LanguageLocalized(
                locale=locale, text=result.text, source_type=ctx.frame.type, source_id=ctx.frame.id,
                player_id=player_id, coverage=result.coverage,
            ))

    @on("lw.*.world.opened", key=_by_world)
    async def world_opened(self, event: WorldOpened, ctx: Context) -> None:
        """Protect the names of the world, its places and factions."""
        self._learn(ctx.frame.world, [event.title, *event.factions, *(r.name for r in event.regions)])

    @on("lw.*.world.closed", key=_by_world)
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @on("lw.*.npc.spawned", key=_by_world)
    async def npc_spawned(self, event: NpcSpawned, ctx: Context) -> None:
        """Protect an NPC's name."""
        self._learn(ctx.frame.world, [event.name])

    @on("lw.*.language.glossary_added", key=_by_world)
    async def glossary_added(self, event: LanguageGlossaryAdded, ctx: Context) -> None:
        """Protect terms a designer added."""
        self._learn(ctx.frame.world, event.terms)

    @on("lw.*.player.*", key=_by_world)
    async def player_event(self, event: Event, ctx: Context) -> None:
        """Note the locale of players who join; forget those who leave."""
        if isinstance(event, PlayerJoined):
            self._world(ctx.frame.world).locales[event.player_id] = event.locale
        elif isinstance(event, PlayerLeft):
            self._world(ctx.frame.world).locales.pop(event.player_id, None)

    @on("lw.*.npc.said", key=_by_world)
    async def npc_said(self, event: NpcSaid, ctx: Context) -> None:
        """Localise a line for its listener, or for every locale present."""
        w = self._world(ctx.frame.world)
        if event.to_player is not None:
            locale = w.locales.get(event.to_player)
            if locale is not None:
                await self._localize(ctx, event.text, [locale], event.to_player)
            return
        await self._localize(ctx, event.text, w.locales.values())

    @on("lw.*.narrative.*", key=_by_world)
    async def narrative(self, event: Event, ctx: Context) -> None:
        """Localise a beat, hook or ambience for the locales that will read it."""
        w = self._world(ctx.frame.world)
        text = getattr(event, "text", None)
        if not isinstance(text, str) or not text:
            return
        if isinstance(event, NarrativeAmbience) and event.player_id is not None:
            locale = w.locales.get(event.player_id)
            if locale is not None:
                await self._localize(ctx, text, [locale], event.player_id)
            return
        await self._localize(ctx, text, w.locales.values())

    @reply("lw.rpc.*.language.translate", key=_by_world)
    async def translate(self, event: LanguageTranslate, ctx: Context) -> LanguageTranslation:
        """Translate a text with the world's glossary."""
        if not self.translator.supports(event.locale) and base_locale(event.locale) != SOURCE_LOCALE:
            raise LoreweaveError("locale", f"cannot translate into {event.locale!r}")
        if base_locale(event.locale) == SOURCE_LOCALE:
            return LanguageTranslation(text=event.text, locale=event.locale, coverage=1.0)
        w = self._world(ctx.frame.world)
        result = await self.translator.translate(event.text, event.locale, [*self.glossary, *w.glossary])
        return LanguageTranslation(
            text=result.text, locale=event.locale, coverage=result.coverage, protected=list(result.protected))
