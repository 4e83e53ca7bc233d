"""An actor node: runs a set of actors on one bus, with supervision and graceful shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import signal
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from loreweave.actors.runtime.actor import Actor, HandlerSpec
from loreweave.actors.runtime.bus import EVENTS_STREAM, Bus
from loreweave.actors.runtime.dispatch import HandlerRunner, MailItem, actor_mailbox
from loreweave.actors.runtime.exclusive import ExclusiveSettings, Exclusivity
from loreweave.actors.runtime.mailbox import KeyedMailbox
from loreweave.actors.runtime.persistence import PersistentRunner
from loreweave.actors.runtime.supervisor import Supervisor
from loreweave.actors.runtime.telemetry import RuntimeInstruments
from loreweave.actors.runtime.world_placement import WorldPlacement
from loreweave.actors.runtime.world_state import is_world_placed
from loreweave.protocol.errors import ConfigError

if TYPE_CHECKING:
    from loreweave.config import Settings
    from loreweave.db import Database

logger = logging.getLogger(__name__)
#: Seconds between attempts to publish frames left in an actor's outbox.
OUTBOX_RETRY_S = 2.0
_DURABLE_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class ActorNode:
    """Hosts actors on a bus: subscribes their handlers, runs their timers, and stops cleanly.

    Args:
        bus: the connected bus.
        actors: the actors to host.
        capacity: frames each handler may hold (queued or running) before backpressure.
        attempts: tries of a failing event handler before its frame is dead-lettered.
        ack_wait_s: how long JetStream waits for a durable handler's ack before redelivering.
        drain_timeout_s: how long :meth:`stop` lets frames in hand finish before cancelling them.
        database: where persistent actors (those with a ``State``) keep their state.
        exclusive: share the actors with the other nodes of the bus, one activation at a time:
            actors placed by world (``placement = "world"``) run on every node for the worlds of
            the partitions it owns (:mod:`loreweave.actors.runtime.world_placement`); the others
            run on one node at a time (:mod:`loreweave.actors.runtime.exclusive`). None: every
            node that hosts an actor shares its frames (queue groups), with no placement.
    """

    def __init__(
        self,
        bus: Bus,
        actors: Iterable[Actor],
        *,
        capacity: int = 1024,
        attempts: int = 3,
        ack_wait_s: float = 30.0,
        drain_timeout_s: float = 10.0,
        instruments: RuntimeInstruments | None = None,
        database: Database | None = None,
        exclusive: ExclusiveSettings | None = None,
    ) -> None:
        self.bus = bus
        self.actors = list(actors)
        names = [actor.name for actor in self.actors]
        if len(set(names)) != len(names):
            raise ValueError(f"actor names must be unique on a node, got {names}")
        self.capacity = capacity
        self.attempts = attempts
        self.ack_wait_s = ack_wait_s
        self.drain_timeout_s = drain_timeout_s
        self.instruments = instruments or RuntimeInstruments.create()
        self.supervisor = Supervisor(self.instruments.restarts)
        self.database = database
        self.exclusive = exclusive
        #: Set once started with ``exclusive``: which actors this node runs now.
        self.exclusivity: Exclusivity | None = None
        #: Set once started with ``exclusive``: which worlds this node runs its world-placed actors for.
        self.worlds: WorldPlacement | None = None
        self._world_placed = {a.name for a in self.actors if exclusive is not None and is_world_placed(a)}
        self._world_runners: list[HandlerRunner] = []
        self._persistent_runners: dict[str, PersistentRunner] = {}
        self.runners: list[HandlerRunner] = []
        self.persistent: list[asyncio.Task[None]] = []
        self.mailboxes: dict[str, KeyedMailbox[MailItem]] = {}
        self._subscriptions: list[Subscription] = []
        self._pulls: list[Subscription] = []
        self._stopping = asyncio.Event()
        self._started = False
        self._intake_open = True
        self._dropped_on_stop = 0
        #: Core subscription (by ``id``) -> its runner, to name the actor whose frames were dropped.
        self._sub_runners: dict[int, HandlerRunner] = {}
        bus.on_drop(self._dropped)
        bus.on_connection(self._connection)

    @classmethod
    def from_settings(
        cls, bus: Bus, actors: Iterable[Actor], settings: Settings, *, database: Database | None = None
    ) -> ActorNode:
        """A node as the ``LOREWEAVE_*`` settings describe it (mailbox, attempts, drain, exclusivity)."""
        return cls(
            bus, actors, capacity=settings.mailbox_capacity, attempts=settings.handler_attempts, database=database,
            drain_timeout_s=settings.drain_timeout_s, exclusive=ExclusiveSettings.from_settings(settings),
        )

    async def start(self) -> None:
        """Create the streams, start every actor, and subscribe its handlers."""
        limits = self.bus.limits
        if self.exclusive is not None:  # the stream republishes events by this placement's partitions
            limits = dataclasses.replace(limits, partitions=self.exclusive.partitions)
        await self.bus.ensure_streams(limits)
        for actor in self.actors:
            actor.bind(self.bus, self.database)
            persistent = await self._start_persistent(actor) if actor.State is not None else None
            await actor.on_start()
            for spec in actor.handler_specs:
                if persistent is None or spec.kind != "event":
                    await self._start_handler(actor, spec)
            if persistent is not None:
                self._persistent_runners[actor.name] = persistent
                if self.exclusive is None:
                    self._start_persistent_task(actor, self._stopping)
        if self.exclusive is not None:
            self.exclusivity = Exclusivity(
                self.bus, [a for a in self.actors if a.name not in self._world_placed], self.exclusive,
                self.database, self._persistent_runners, self._start_persistent_task,
            )
            await self.exclusivity.start()
            if self._world_placed:
                self.worlds = WorldPlacement(
                    self.bus, [a for a in self.actors if a.name in self._world_placed], self._world_runners,
                    self.exclusive.placement(self.drain_timeout_s), self.database,
                    snapshot_every_s=self.exclusive.snapshot_every_s,
                )
                await self.worlds.start()
        if self.database is not None:
            self.supervisor.start("outbox.resend", self._resend_outboxes)
        await self.bus.sync()  # the server knows every subscription before start() returns
        self._started = True
        logger.info("node started: %s", ", ".join(actor.name for actor in self.actors))

    def _start_persistent_task(self, actor: Actor, halt: asyncio.Event) -> asyncio.Task[None]:
        runner = self._persistent_runners[actor.name]
        task = self.supervisor.start(f"{actor.name}.persist", lambda: runner.run(halt))
        self.persistent.append(task)
        return task

    def _active(self, actor: Actor) -> bool:
        # A world-placed actor is active on every node, for the worlds this node owns.
        return self.exclusivity is None or actor.name in self._world_placed or self.exclusivity.active(actor)

    async def _start_persistent(self, actor: Actor) -> PersistentRunner:
        if self.database is None:
            raise ConfigError(
                f"actors.{actor.name}", "keeps persistent state (State): give the node a database"
            )
        runners = [
            HandlerRunner(actor, spec, self.bus, self.instruments, capacity=1, attempts=self.attempts)
            for spec in actor.handler_specs
            if spec.kind == "event"
        ]
        if not runners:
            raise ConfigError(f"actors.{actor.name}", "is persistent but handles no @on subject")
        persistent = PersistentRunner(
            actor, runners, self.bus, self.database, attempts=self.attempts, ack_wait_s=self.ack_wait_s
        )
        await persistent.load()
        return persistent

    async def _start_handler(self, actor: Actor, spec: HandlerSpec) -> None:
        if spec.kind == "timer":
            self.supervisor.start(f"{actor.name}.{spec.method}", lambda: self._timer(actor, spec))
            return
        mailbox = self.mailboxes.get(actor.name)
        if mailbox is None:
            mailbox = self.mailboxes[actor.name] = actor_mailbox(self.capacity)
        runner = HandlerRunner(
            actor, spec, self.bus, self.instruments, capacity=self.capacity, attempts=self.attempts,
            mailbox=mailbox,
        )
        self.runners.append(runner)
        if actor.name in self._world_placed:
            if spec.durable:
                raise ConfigError(f"actors.{actor.name}.{spec.method}", "is placed by world: durable handlers are not")
            self._world_runners.append(runner)
            if spec.kind == "event":
                return  # world placement feeds it the events of the partitions this node owns
        if spec.durable:
            durable = _DURABLE_UNSAFE.sub("_", f"{actor.name}-{spec.method}-{spec.pattern}")
            config = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait_s,
                filter_subject=spec.pattern,
                deliver_policy=DeliverPolicy.NEW if spec.deliver == "new" else DeliverPolicy.ALL,
                max_ack_pending=max(self.capacity * 2, 256),
            )
            pull = await self.bus.js.pull_subscribe(
                spec.pattern, durable=durable, stream=EVENTS_STREAM, config=config
            )
            self._pulls.append(pull)
            self.supervisor.start(f"{durable}.pull", lambda: self._pull(runner, pull))
            return
        # One queue group per handler: instances of the actor share its frames, while two of
        # its handlers with overlapping patterns each still get every frame. Exclusive actors
        # get every frame on every node, and only the node running the actor takes it.
        queue = "" if self.exclusive else _DURABLE_UNSAFE.sub("_", f"{actor.name}.{spec.method}.{spec.pattern}")
        take, direct = self._intake(runner)
        sub = await self.bus.nc.subscribe(spec.pattern, queue=queue, cb=take, pending_msgs_limit=self.capacity * 8)
        deliver_directly = getattr(self.bus.nc, "deliver_directly", None)
        if direct is not None and deliver_directly is not None:
            deliver_directly(sub, direct)
        self._subscriptions.append(sub)
        self._sub_runners[id(sub)] = runner

    def _intake(self, runner: HandlerRunner) -> tuple[Callable[[Msg], Awaitable[None]], Callable[[Msg], bool] | None]:
        """A core subscription's callback, offering to the runner until the node stops for good, and
        (not for world-placed actors) its direct intake, taking a message from the client's reading
        loop straight into the mailbox when that needs no wait."""

        world_placed = runner.actor.name in self._world_placed
        busy = 0

        async def take(msg: Msg) -> None:
            nonlocal busy
            busy += 1
            try:
                if self._intake_open:
                    if world_placed:
                        if self.worlds is not None:  # before it starts, the takeover's replay covers the frame
                            await self.worlds.admit(runner, msg)
                    elif self._active(runner.actor):
                        await runner.offer(msg)
                    return
                self._dropped_on_stop += 1
                self.instruments.dropped.add(1, _drop_attributes(runner, "stopping"))
            finally:
                busy -= 1

        def direct(msg: Msg) -> bool:
            # Not while the callback holds a message (waiting for room): this one would pass it.
            return not busy and self._intake_open and self._active(runner.actor) and runner.offer_now(msg)

        return take, None if world_placed else direct

    def _dropped(self, sub: Subscription | None) -> None:
        """Count a frame the NATS client dropped because a subscription of this node fell behind."""
        runner = self._sub_runners.get(id(sub)) if sub is not None else None
        if runner is not None:
            self.instruments.dropped.add(1, _drop_attributes(runner, "slow_consumer"))
        else:
            self.instruments.dropped.add(1, {"lw.subject": sub.subject if sub else "", "lw.cause": "slow_consumer"})

    def _connection(self, event: str) -> None:
        """Count a lost or regained NATS connection (the bus logs it)."""
        (self.instruments.disconnects if event == "disconnected" else self.instruments.reconnects).add(1, {})

    async def _resend_outboxes(self) -> None:
        """Publish what a crash or a failed publish left in the actors' outboxes, every few seconds."""
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), OUTBOX_RETRY_S)
                return
            except asyncio.TimeoutError:
                pass
            for actor in self.actors:
                outbox = actor._outbox
                if outbox is None or not outbox.dirty:
                    continue
                try:
                    sent = await outbox.resend()
                except Exception as exc:  # the bus or the database is still away: next round
                    logger.warning("%s: outbox not published yet: %r", actor.name, exc)
                    continue
                if sent:
                    self.instruments.resent.add(sent, {"lw.actor": actor.name})

    async def _timer(self, actor: Actor, spec: HandlerSpec) -> None:
        # A plain sleep to the next due time: one timer handle per tick (no waiter task to
        # create and cancel), on a fixed schedule; stop() cancels the task.
        tick = getattr(actor, spec.method)
        loop = asyncio.get_running_loop()
        interval = spec.interval_s
        due = loop.time() + interval
        while not self._stopping.is_set():
            await asyncio.sleep(due - loop.time())
            if self._stopping.is_set():
                return
            now = loop.time()
            due = due + interval if due + interval > now else now + interval  # a slow tick skips, never bursts
            if self._active(actor):
                await tick()

    async def _pull(self, runner: HandlerRunner, pull: object) -> None:
        while not self._stopping.is_set():
            if not self._active(runner.actor):
                await asyncio.sleep(0.2)
                continue
            batch = max(1, min(runner.mailbox.free, 256))
            try:
                msgs = await pull.fetch(batch, timeout=0.5)  # type: ignore[attr-defined]
            except asyncio.TimeoutError:  # nats-py raises its own subclass or the plain one
                continue
            for msg in msgs:
                await runner.offer(msg)

    async def stop(self) -> None:
        """Stop taking frames, let those in hand finish for at most ``drain_timeout_s``, cancel the rest, close.

        Intake stops first: core subscriptions unsubscribe (what the client queued still flows
        in), timers, pulls and persistent consumers stop. Frames in the mailboxes then run until
        the deadline; whatever is left is cancelled. A durable frame that was not acknowledged is
        redelivered later, so cancelling it loses nothing; core frames still queued are counted
        in ``lw.frames.dropped``. Each ``on_stop`` gets ``drain_timeout_s`` too.
        """
        if not self._started:
            await self.bus.close()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout_s

        def left() -> float:
            return max(0.0, deadline - loop.time())

        self._stopping.set()
        if self.exclusivity is not None:
            self.exclusivity.halt_all()
        drains = [asyncio.create_task(_drain(sub)) for sub in self._subscriptions]
        if drains:
            await asyncio.wait(drains, timeout=left())
        if self.persistent:
            # Let each persistent actor commit the batch in hand before its task is cancelled.
            await asyncio.wait(self.persistent, timeout=left())
        await self.supervisor.stop()
        for pull in self._pulls:
            # Fetched but unhandled frames are not acked; JetStream redelivers them.
            try:
                await pull.unsubscribe()
            except Exception:
                logger.debug("pull unsubscribe failed", exc_info=True)
        names = list(self.mailboxes)
        results = await asyncio.gather(*(self.mailboxes[name].join(left()) for name in names))
        self._intake_open = False  # from here, what the client still queued is dropped (and counted)
        for name, drained in zip(names, results):
            if not drained:
                cancelled = await self.mailboxes[name].cancel()
                logger.warning(
                    "%s did not drain within %gs of stopping: cancelled %d frames (durable ones are redelivered)",
                    name, self.drain_timeout_s, cancelled,
                )
        if drains:
            _, unfinished = await asyncio.wait(drains, timeout=1.0)
            for task in unfinished:
                task.cancel()
        if self._dropped_on_stop:
            logger.warning("dropped %d queued core frames while stopping", self._dropped_on_stop)
        if self.worlds is not None:  # drained: save the worlds, then hand their partitions over
            try:
                await asyncio.wait_for(self.worlds.stop(), self.drain_timeout_s)
            except Exception:
                logger.exception("handing the worlds over failed (their leases expire by their TTL)")
        if self.exclusivity is not None:  # drained: save what is active, then hand the leases over
            try:
                await asyncio.wait_for(self.exclusivity.stop(), self.drain_timeout_s)
            except Exception:
                logger.exception("handing the actors' leases over failed (they expire by their TTL)")
        for actor in reversed(self.actors):
            try:
                await asyncio.wait_for(actor.on_stop(), self.drain_timeout_s)
            except Exception:
                logger.exception("%s.on_stop failed", actor.name)
        await self.bus.close()
        self._started = False
        logger.info("node stopped")

    async def run_until_signalled(self, on_started: Callable[[], None] | None = None) -> None:
        """Start, run until SIGTERM or SIGINT (or :meth:`request_stop`), then stop gracefully.

        ``on_started`` is called once every actor has subscribed.
        """
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        try:
            await self.start()
            if on_started is not None:
                on_started()
            await self._stopping.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await self.stop()

    def request_stop(self) -> None:
        """Ask a running node to stop (what SIGTERM does)."""
        self._stopping.set()


async def _drain(sub: Subscription) -> None:
    """Unsubscribe, then wait for what the client already queued to be offered."""
    try:
        await sub.drain()
    except Exception:
        logger.debug("subscription drain failed", exc_info=True)


def _drop_attributes(runner: HandlerRunner, cause: str) -> dict[str, str]:
    return {"lw.actor": runner.actor.name, "lw.handler": runner.spec.method, "lw.cause": cause}
