"""The registry (capability-registry, model-management): who is alive and what they handle.

Actor instances announce themselves with one ``actor.heartbeat`` per interval on
``lw.sys.heartbeat.actor.<actor>``, carrying their counts per world; model tiers with
``model.heartbeat`` (health, latency, queue) in a world. An instance silent for
``stale_after_s`` is marked lost, in every world it served.

Consumes: ``actor.heartbeat``, ``model.heartbeat``, ``world.closed``. Answers ``registry.query``.
Emits, in each world concerned: ``registry.registered`` (first heard of there, or back after
being lost), ``registry.lost``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, every, on, reply
from loreweave.protocol import HEARTBEATS, now_us, subject_matches
from loreweave.schemas import (
    ActorEntry,
    ActorHeartbeat,
    ModelEntry,
    ModelHeartbeat,
    RegistryLost,
    RegistryQuery,
    RegistryRegistered,
    RegistrySnapshot,
    WorldClosed,
)


class RegistryWorld(BaseModel):
    """Actor instances that reported counts in one world."""

    actors: dict[str, ActorEntry] = Field(
        default_factory=dict, description="Instance -> its counts in the world (liveness: RegistryState.instances)."
    )


class RegistryState(BaseModel):
    """Actor instances with their liveness and totals, their counts per world; models (shared by every
    world) by ``model/instance``, with the world they spoke in."""

    instances: dict[str, ActorEntry] = Field(default_factory=dict, description="Instance -> totals and liveness.")
    worlds: dict[str, RegistryWorld] = Field(default_factory=dict)
    models: dict[str, ModelEntry] = Field(default_factory=dict)
    model_worlds: dict[str, str] = Field(default_factory=dict)


class Registry(GameActor[RegistryState]):
    """Keeps the live directory of actors and model tiers.

    Args:
        stale_after_s: real seconds without a heartbeat before an instance is lost.
        sweep_s: how often staleness is checked.
    """

    #: The directory spans every world (instances, models): one node keeps all of it.
    placement = "actor"

    name = "registry"

    def __init__(
        self, *, seed: int = 0, stale_after_s: float = 15.0, sweep_s: float = 1.0, heartbeat_s: float = 5.0
    ) -> None:
        super().__init__(RegistryState(), seed=seed, heartbeat_s=heartbeat_s)
        self.stale_after_s = stale_after_s
        self.set_interval("sweep", sweep_s)

    @on(HEARTBEATS, key=lambda frame: getattr(frame.payload, "instance", ""))
    async def actor_heartbeat(self, event: ActorHeartbeat, ctx: Context) -> None:
        """Record an actor instance and its counts in each world it reported."""
        now = now_us()
        known = self.state.instances.get(event.instance)
        back = known is not None and not known.alive
        self.state.instances[event.instance] = ActorEntry(
            actor=event.actor, instance=event.instance, subjects=list(event.subjects), handled=event.handled,
            failed=event.failed, last_seen_us=now, alive=True,
        )
        announce = set(self._worlds_of(event.instance)) if back else set()
        for count in event.worlds:
            actors = self.state.worlds.setdefault(count.world, RegistryWorld()).actors
            if event.instance not in actors:
                announce.add(count.world)
            actors[event.instance] = ActorEntry(
                actor=event.actor, instance=event.instance, subjects=list(event.subjects), handled=count.handled,
                failed=count.failed, last_seen_us=now, alive=True,
            )
        for world in sorted(announce):
            await ctx.emit(RegistryRegistered(kind="actor", name=event.actor, instance=event.instance), world=world)

    def _worlds_of(self, instance: str) -> list[str]:
        return [world for world, registry in self.state.worlds.items() if instance in registry.actors]

    @on("lw.*.model.heartbeat", key=lambda frame: frame.world)
    async def model_heartbeat(self, event: ModelHeartbeat, ctx: Context) -> None:
        """Record a model tier instance."""
        key = f"{event.model}/{event.instance}"
        known = self.state.models.get(key)
        self.state.models[key] = ModelEntry(
            model=event.model, tier=event.tier, instance=event.instance, healthy=event.healthy,
            latency_ms=event.latency_ms, queue_depth=event.queue_depth, last_seen_us=now_us(), alive=True,
        )
        self.state.model_worlds[key] = ctx.frame.world
        if known is None or not known.alive:
            await ctx.emit(RegistryRegistered(kind="model", name=event.model, instance=event.instance))

    @on("lw.*.world.closed", key=lambda frame: frame.world)
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world's actors."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @every(1.0)
    async def sweep(self) -> None:
        """Mark silent instances lost and say so in the world they spoke in."""
        now = now_us()
        cutoff = now - int(self.stale_after_s * 1_000_000)
        for entry in list(self.state.instances.values()):
            if entry.alive and entry.last_seen_us < cutoff:
                entry.alive = False
                for world in self._worlds_of(entry.instance):
                    await self.publish(RegistryLost(
                        kind="actor", name=entry.actor, instance=entry.instance,
                        silent_s=round((now - entry.last_seen_us) / 1e6, 1)), world)
        for key, model in list(self.state.models.items()):
            if model.alive and model.last_seen_us < cutoff:
                model.alive = False
                await self.publish(RegistryLost(
                    kind="model", name=model.model, instance=model.instance,
                    silent_s=round((now - model.last_seen_us) / 1e6, 1)), self.state.model_worlds[key])

    @reply("lw.rpc.*.registry.query", key=lambda frame: frame.world)
    async def query(self, event: RegistryQuery, ctx: Context) -> RegistrySnapshot:
        """The actors of this world and the models, filtered by subject, tier and liveness."""
        actors: list[ActorEntry] = []
        models: list[ModelEntry] = []
        if event.kind in ("all", "actors"):
            registry = self.state.worlds.get(ctx.frame.world, RegistryWorld())
            actors = [
                entry for entry in (self._live(entry) for _, entry in sorted(registry.actors.items()))
                if (entry.alive or not event.alive_only)
                and (event.subject is None or any(subject_matches(p, event.subject) for p in entry.subjects))
            ]
        if event.kind in ("all", "models"):
            models = [
                entry for _, entry in sorted(self.state.models.items())
                if (entry.alive or not event.alive_only) and (event.tier is None or entry.tier == event.tier)
            ]
        return RegistrySnapshot(actors=actors, models=models)

    def _live(self, entry: ActorEntry) -> ActorEntry:
        """A world's entry with its instance's liveness: a heartbeat need not list every world every time."""
        instance = self.state.instances.get(entry.instance)
        if instance is None:
            return entry
        return entry.model_copy(update={
            "alive": instance.alive, "last_seen_us": instance.last_seen_us, "subjects": instance.subjects,
        })
