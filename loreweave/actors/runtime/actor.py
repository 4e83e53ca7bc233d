"""The ``Actor`` base class and the decorators that declare its handlers and timers."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, ClassVar, Hashable, Literal

from pydantic import BaseModel

from loreweave.protocol import Frame, SubjectError, check_pattern, is_journaled
from loreweave.schemas import Event

if TYPE_CHECKING:
    from loreweave.actors.runtime.bus import Bus
    from loreweave.actors.runtime.outbox import Outbox
    from loreweave.db import Database

KeySpec = str | Callable[[Frame], Hashable] | None
Deliver = Literal["all", "new"]


@dataclass(frozen=True)
class Persistence:
    """When a persistent actor commits its state: after ``max_batch`` frames or ``interval_s``."""

    interval_s: float = 0.2
    max_batch: int = 256


@dataclass(frozen=True)
class HandlerSpec:
    """What a decorator declared on an actor method."""

    kind: Literal["event", "request", "timer"]
    method: str
    pattern: str = ""
    key: KeySpec = None
    durable: bool = False
    deliver: Deliver = "all"
    interval_s: float = 0.0


def _mark(spec_factory: Callable[[str], HandlerSpec]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        # A method may carry several decorators (one per subject pattern).
        fn.__lw_specs__ = (*getattr(fn, "__lw_specs__", ()), spec_factory(fn.__name__))  # type: ignore[attr-defined]
        return fn

    return decorate


def on(
    pattern: str, *, key: KeySpec = None, durable: bool = False, deliver: Deliver = "all"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Handle frames on a subject pattern: ``async def handler(self, event, ctx) -> None``.

    Args:
        pattern: NATS subject pattern, e.g. ``lw.*.player.joined`` or ``lw.w1.npc.>``.
        key: what orders handling: a payload field name, a function of the frame, or
            ``None`` for the event's declared key (else the world). Frames with the same
            key never run at the same time in any of the actor's handlers, and run in
            arrival order within one handler; other keys run concurrently. To keep the
            order of several event types for one key, take them in one handler
            (``lw.*.player.>``) or make the actor persistent (one ordered consumer).
        durable: consume through a JetStream durable consumer: acknowledged only after
            the handler succeeds, redelivered after a crash, duplicate frame ids skipped.
        deliver: for a new durable consumer, replay ``all`` retained frames or only ``new`` ones.
    """
    check_pattern(pattern)
    return _mark(lambda name: HandlerSpec("event", name, pattern, key, durable, deliver))


def reply(pattern: str, *, key: KeySpec = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Answer requests on a subject pattern: ``async def handler(self, event, ctx) -> Event``.

    A raised error is answered with an ``sys.error`` frame naming its code and field.
    Request subjects live under ``lw.rpc.`` (see :func:`loreweave.protocol.request_subject`).
    """
    check_pattern(pattern)
    if is_journaled(pattern):
        raise SubjectError(
            "pattern",
            f"{pattern!r} is journaled by JetStream, which would answer requests itself: "
            "use lw.rpc.<world>.<domain>.<name>",
        )
    return _mark(lambda name: HandlerSpec("request", name, pattern, key))


def every(seconds: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Call ``async def tick(self) -> None`` every ``seconds`` (a game tick), supervised."""
    if seconds <= 0:
        raise ValueError("every(seconds): seconds must be > 0")
    return _mark(lambda name: HandlerSpec("timer", name, interval_s=seconds))


class Context:
    """What a handler gets besides its event: the frame, and emission that keeps causality."""

    __slots__ = ("frame", "actor", "durable", "conn", "scope", "staged", "_emitted")

    def __init__(self, frame: Frame, actor: Actor, durable: bool, conn: Any = None, *, handler: str = "") -> None:
        self.frame = frame
        self.actor = actor
        self.durable = durable
        #: For a persistent actor: the database connection of the transaction that records
        #: this frame as applied; writes through it commit or roll back with the frame.
        self.conn = conn
        #: Who emits: ``<actor>.<handler>``, part of every derived frame id.
        self.scope = f"{actor.name}.{handler}" if handler else actor.name
        #: Inside a persistent actor's transaction, emitted frames wait here: the runtime
        #: writes them to the outbox in that transaction and publishes them after the commit.
        self.staged: list[Frame] | None = [] if conn is not None else None
        self._emitted = 0

    def derive(self, event: Event, *, world: str | None = None) -> Frame:
        """The next frame caused by the handled one, without publishing it.

        Its id is derived from the handled frame's id, this handler and the emission's
        index, so a re-run after a redelivery derives the same ids (JetStream drops the
        copies) while other handlers and actors reacting to the same frame never collide.
        """
        frame = self.frame.caused(
            event.TYPE, event, source=self.actor.name, index=self._emitted, version=event.VERSION,
            world=world, scope=self.scope,
        )
        self._emitted += 1
        return frame

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A database transaction whose emitted frames commit with it (the actor's outbox).

        Inside the block, :meth:`emit` stages frames; they are written to the outbox in the
        transaction and published with JetStream acks once it commits. A failed publish
        leaves them in the outbox, published again by the node shortly after. For handlers
        that are not run inside a transaction already (requests, plain ``@on`` handlers)::

            async with ctx.transaction() as conn:
                await conn.execute(...)
                await ctx.emit(QuestAccepted(...))
        """
        if self.staged is not None:
            raise RuntimeError("already in a transaction: emit through this context")
        outbox = self.actor.outbox
        async with self.actor.database.state.transaction() as conn:
            self.conn, self.staged = conn, []
            try:
                yield conn
                rows = await outbox.stage(conn, self.staged)
            finally:
                self.conn, self.staged = None, None
        await outbox.publish_committed(rows)

    async def emit(self, event: Event, *, world: str | None = None) -> Frame:
        """Publish an event caused by the frame being handled (see :meth:`derive` for its id).

        In a persistent actor the frame is committed to the outbox with the handler's
        effects and published, with a JetStream acknowledgement, once that commit is done.
        """
        frame = self.derive(event, world=world)
        if self.staged is not None:
            self.staged.append(frame)
        else:
            await self.actor.bus.publish(frame, durable=self.durable)
        return frame


class Actor:
    """Base class of game-system actors.

    Subclasses declare handlers with :func:`on`, :func:`reply` and :func:`every`, keep
    their own state as attributes, and talk to other actors only through frames.
    """

    #: Actor name: the queue group, durable consumer prefix and frame source.
    name: ClassVar[str] = ""
    handler_specs: ClassVar[tuple[HandlerSpec, ...]] = ()
    #: Set to a pydantic model class to make the actor persistent: ``self.state`` is loaded
    #: from PostgreSQL on start and committed with the ids of the frames that changed it.
    State: ClassVar[type[BaseModel] | None] = None
    #: How often a persistent actor commits (see :class:`Persistence`).
    persistence: ClassVar[Persistence] = Persistence()
    #: How nodes share the actor: ``"actor"``, one node runs it for every world at a time;
    #: ``"world"``, each node runs it for the worlds of the partitions it owns (needs an
    #: in-memory ``state`` with a ``worlds`` dict: see :mod:`loreweave.actors.runtime.world_placement`).
    placement: ClassVar[str] = "actor"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__.lower().removesuffix("actor") or cls.__name__.lower()
        specs: dict[str, tuple[HandlerSpec, ...]] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                declared = getattr(value, "__lw_specs__", None)
                if declared is not None:
                    specs[attr] = declared
        cls.handler_specs = tuple(spec for declared in specs.values() for spec in declared)

    def __init__(self) -> None:
        self._bus: Bus | None = None
        self._database: Database | None = None
        self._outbox: Outbox | None = None
        if self.State is not None:
            self.state: Any = self.State()

    @property
    def bus(self) -> Bus:
        """The bus this actor runs on (set when a node starts it)."""
        if self._bus is None:
            raise RuntimeError(f"actor {self.name} is not running on a node")
        return self._bus

    @property
    def database(self) -> Database:
        """The database of the node running this actor."""
        if self._database is None:
            raise RuntimeError(f"actor {self.name} runs on a node without a database")
        return self._database

    @property
    def outbox(self) -> Outbox:
        """This actor's transactional outbox (needs a database): stage frames with a commit, publish after."""
        if self._outbox is None:
            raise RuntimeError(f"actor {self.name} runs on a node without a database, so without an outbox")
        return self._outbox

    def bind(self, bus: Bus, database: Database | None = None) -> None:
        """Attach the actor to a bus (and database); called by the node before :meth:`on_start`."""
        from loreweave.actors.runtime.outbox import Outbox

        self._bus = bus
        self._database = database
        self._outbox = Outbox(bus, database, self.name) if database is not None else None

    async def on_start(self) -> None:
        """Called once before the actor's handlers receive frames."""

    async def on_activate(self) -> None:
        """Called when this node starts running the actor under an exclusive lease, after its
        state was restored (the actor may have run elsewhere since :meth:`on_start`)."""

    async def on_stop(self) -> None:
        """Called once after the last frame was handled, before the connection closes."""

    async def publish(self, event: Event, world: str, *, durable: bool = False) -> Frame:
        """Publish an event as a new root frame (from a timer or start-up, not a handler)."""
        return await self.bus.emit(event, world, source=self.name, durable=durable)
