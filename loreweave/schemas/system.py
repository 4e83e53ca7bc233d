"""Runtime events: errors, actor heartbeats and test probes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import Id

#: Most worlds one heartbeat reports; an instance serving more reports them in turns.
MAX_HEARTBEAT_WORLDS = 256


@event("sys.error")
class ErrorReply(Event):
    """The reply to a request that failed: a code a program can branch on and a message."""

    code: str = Field(description="timeout, bad_request, handler_failed, overloaded, ...")
    message: str
    field: str | None = None


class WorldCount(BaseModel):
    """What an actor instance did in one world since it started."""

    world: Id
    handled: int = Field(default=0, ge=0, description="Frames handled in the world.")
    failed: int = Field(default=0, ge=0, description="Handler failures in the world.")


@event("actor.heartbeat", version="1.1", key="instance")
class ActorHeartbeat(Event):
    """An actor instance is alive: what it is, what it listens to, and its counts per world.

    One per instance per interval on ``lw.sys.heartbeat.actor.<actor>`` (world ``_``, never
    journaled), however many worlds the instance serves.
    """

    actor: str
    instance: str
    subjects: list[str] = Field(default_factory=list)
    handled: int = Field(default=0, description="Frames handled in every world.")
    failed: int = Field(default=0, description="Handler failures in every world.")
    worlds: list[WorldCount] = Field(
        default_factory=list, max_length=MAX_HEARTBEAT_WORLDS,
        description="Counts per world: those that changed since the last heartbeat first, then the "
        "ones reported longest ago, at most MAX_HEARTBEAT_WORLDS.",
    )
