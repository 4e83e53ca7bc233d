"""What every game actor shares: a seed, one serialisable state object, handled counts, heartbeats.

The runtime's :class:`~loreweave.actors.runtime.Actor` gives handlers and timers; a game
actor also announces itself (one ``actor.heartbeat`` per interval on a system subject, with the
frames it handled in each world it serves) so the registry and the simulator can see it, and
keeps all of its state in ``self.state``, one pydantic model, so the persistence layer can store
and restore it.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from loreweave.actors.runtime import Actor, Context, every, frame_for
from loreweave.protocol import SYSTEM_WORLD, LoreweaveError, heartbeat_subject
from loreweave.schemas import MAX_HEARTBEAT_WORLDS, ActorHeartbeat, Event, WorldCount

S = TypeVar("S", bound=BaseModel)
Handler = Callable[[Event, Context], Awaitable[Any]]

#: Default seconds between heartbeats.
HEARTBEAT_S = 5.0


class GameActor(Actor, Generic[S]):
    """Base class of the game-system actors.

    Args:
        state: the actor's whole state, one serialisable model.
        seed: the seed every random choice of the actor derives from.
        heartbeat_s: seconds between ``actor.heartbeat`` frames.
    """

    #: Game actors keep every world's state apart in ``state.worlds``: nodes share them by world.
    placement = "world"

    def __init__(self, state: S, *, seed: int = 0, heartbeat_s: float = HEARTBEAT_S) -> None:
        super().__init__()
        self.state: S = state
        self.seed = seed
        self.instance = f"{self.name}-{uuid.uuid4().hex[:8]}"
        #: World -> [frames handled, handler failures] since the actor started.
        self.counts: dict[str, list[int]] = {}
        #: World -> the counts its last heartbeat reported, longest ago first.
        self._reported: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._heartbeat_subject = heartbeat_subject(self.name)
        self._rngs: dict[tuple[str, ...], random.Random] = {}
        self.set_interval("heartbeat", heartbeat_s)
        handlers = {spec.method: spec.kind for spec in self.handler_specs if spec.kind in ("event", "request")}
        for method, kind in handlers.items():  # once per method, however many patterns it has
            setattr(self, method, self._counted(getattr(self, method), kind == "request"))

    def set_interval(self, method: str, seconds: float) -> None:
        """Give this instance's timer ``method`` its own interval (``every()`` fixes it per class)."""
        if seconds <= 0:
            raise ValueError(f"{self.name}.{method}: interval must be > 0")
        self.handler_specs = tuple(  # type: ignore[misc]  # an instance attribute shadows the class's specs
            replace(spec, interval_s=seconds) if spec.kind == "timer" and spec.method == method else spec
            for spec in self.handler_specs
        )

    def _counted(self, handler: Handler, request: bool) -> Handler:
        @functools.wraps(handler)
        async def counted(event: Event, ctx: Context) -> Any:
            if ctx.frame.world == SYSTEM_WORLD:  # heartbeats and the like serve no world
                return await handler(event, ctx)
            counts = self.counts.setdefault(ctx.frame.world, [0, 0])
            try:
                result = await handler(event, ctx)
            except LoreweaveError:
                counts[0 if request else 1] += 1  # a refused request was handled: it got a clear answer
                raise
            except Exception:
                counts[1] += 1
                raise
            counts[0] += 1
            return result

        return counted

    def rng(self, world: str, *parts: object) -> random.Random:
        """The actor's random stream in ``world`` for ``parts`` (a region, an NPC...).

        Seeded from the actor's seed and ``parts`` but not the world id, so two worlds run
        with the same seed make the same choices; one stream per thing keeps each thing's
        choices the same whatever order frames of different things arrive in.
        """
        key = (world, *(str(part) for part in parts))
        stream = self._rngs.get(key)
        if stream is None:
            stream = self._rngs[key] = random.Random(":".join((str(self.seed), self.name, *key[1:])))
        return stream

    def forget_world(self, world: str) -> None:
        """Stop announcing ``world`` and drop its random streams."""
        self.counts.pop(world, None)
        self._reported.pop(world, None)
        for key in [key for key in self._rngs if key[0] == world]:
            del self._rngs[key]

    def snapshot(self) -> dict[str, Any]:
        """The actor's state as plain JSON-able values."""
        return self.state.model_dump(mode="json")

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the actor's state with one taken by :meth:`snapshot`."""
        self.state = type(self.state).model_validate(data)

    @every(HEARTBEAT_S)
    async def heartbeat(self) -> None:
        """Announce the instance, its subjects and its counts: one frame per interval, however many worlds.

        Sent on ``lw.sys.heartbeat.actor.<name>``, which the events stream does not journal.
        """
        subjects = sorted({spec.pattern for spec in self.handler_specs if spec.pattern})
        await self.bus.publish(
            frame_for(
                ActorHeartbeat(
                    actor=self.name, instance=self.instance, subjects=subjects,
                    handled=sum(counts[0] for counts in self.counts.values()),
                    failed=sum(counts[1] for counts in self.counts.values()),
                    worlds=self._heartbeat_worlds(),
                ),
                SYSTEM_WORLD, self.name,
            ),
            subject=self._heartbeat_subject,
        )

    def _heartbeat_worlds(self) -> list[WorldCount]:
        """At most MAX_HEARTBEAT_WORLDS worlds: changed since last reported first, then the longest unreported."""
        changed = [world for world, counts in self.counts.items() if self._reported.get(world) != tuple(counts)]
        steady = [
            world for world, counts in self._reported.items()
            if world in self.counts and tuple(self.counts[world]) == counts
        ]
        chosen = (changed + steady)[:MAX_HEARTBEAT_WORLDS]
        for world in chosen:
            self._reported[world] = (self.counts[world][0], self.counts[world][1])
            self._reported.move_to_end(world)
        return [WorldCount(world=world, handled=self._reported[world][0], failed=self._reported[world][1])
                for world in chosen]
