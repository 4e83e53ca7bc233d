"""Runtime events: errors, actor heartbeats and test probes."""

from __future__ import annotations

from pydantic import Field

from loreweave.schemas.base import Event, event


@event("sys.error")
class ErrorReply(Event):
    """The reply to a request that failed: a code a program can branch on and a message."""

    code: str = Field(description="timeout, bad_request, handler_failed, overloaded, ...")
    message: str
    field: str | None = None


@event("actor.heartbeat", key="actor")
class ActorHeartbeat(Event):
    """An actor is alive: what it is and what it listens to."""

    actor: str
    instance: str
    subjects: list[str] = Field(default_factory=list)
    handled: int = 0
    failed: int = 0
