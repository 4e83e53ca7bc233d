"""An actor node: runs a set of actors on one bus, with supervision and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from typing import TYPE_CHECKING, Callable, Iterable

from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from loreweave.actors.runtime.actor import Actor, HandlerSpec
from loreweave.actors.runtime.bus import EVENTS_STREAM, Bus
from loreweave.actors.runtime.dispatch import HandlerRunner, MailItem, actor_mailbox
from loreweave.actors.runtime.mailbox import KeyedMailbox
from loreweave.actors.runtime.supervisor import Supervisor
from loreweave.actors.runtime.telemetry import RuntimeInstruments
from loreweave.protocol.errors import ConfigError

if TYPE_CHECKING:
    from loreweave.db import Database

logger = logging.getLogger(__name__)
_DURABLE_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class ActorNode:
    """Hosts actors on a bus: subscribes their handlers, runs their timers, and stops cleanly.

    Args:
        bus: the connected bus.
        actors: the actors to host.
        capacity: frames each handler may hold (queued or running) before backpressure.
        attempts: tries of a failing event handler before its frame is dead-lettered.
        ack_wait_s: how long JetStream waits for a durable handler's ack before redelivering.
        drain_timeout_s: how long :meth:`stop` waits for in-flight frames.
        database: where persistent actors (those with a ``State``) keep their state.
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
        self.runners: list[HandlerRunner] = []
        self.persistent: list[asyncio.Task[None]] = []
        self.mailboxes: dict[str, KeyedMailbox[MailItem]] = {}
        self._subscriptions: list[Subscription] = []
        self._pulls: list[Subscription] = []
        self._stopping = asyncio.Event()
        self._started = False

    async def start(self) -> None:
        """Create the streams, start every actor, and subscribe its handlers."""
        await self.bus.ensure_streams()
        for actor in self.actors:
            actor.bind(self.bus, self.database)
            persistent = await self._start_persistent(actor) if actor.State is not None else None
            await actor.on_start()
            for spec in actor.handler_specs:
                if persistent is None or spec.kind != "event":
                    await self._start_handler(actor, spec)
            if persistent is not None:
                self.persistent.append(
                    self.supervisor.start(f"{actor.name}.persist", lambda p=persistent: p.run(self._stopping))
                )
        await self.bus.sync()  # the server knows every subscription before start() returns
        self._started = True
        logger.info("node started: %s", ", ".join(actor.name for actor in self.actors))

    async def _start_persistent(self, actor: Actor) -> object:
        from loreweave.actors.runtime.persistence import PersistentRunner

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
        # its handlers with overlapping patterns each still get every frame.
        queue = _DURABLE_UNSAFE.sub("_", f"{actor.name}.{spec.method}.{spec.pattern}")
        sub = await self.bus.nc.subscribe(
            spec.pattern, queue=queue, cb=runner.offer, pending_msgs_limit=self.capacity * 8
        )
        self._subscriptions.append(sub)

    async def _timer(self, actor: Actor, spec: HandlerSpec) -> None:
        tick = getattr(actor, spec.method)
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), spec.interval_s)
                return
            except asyncio.TimeoutError:
                pass
            await tick()

    async def _pull(self, runner: HandlerRunner, pull: object) -> None:
        while not self._stopping.is_set():
            batch = max(1, min(runner.mailbox.free, 256))
            try:
                msgs = await pull.fetch(batch, timeout=0.5)  # type: ignore[attr-defined]
            except asyncio.TimeoutError:  # nats-py raises its own subclass or the plain one
                continue
            for msg in msgs:
                await runner.offer(msg)

    async def stop(self) -> None:
        """Stop taking new frames, let in-flight ones finish, stop actors, close the bus."""
        if not self._started:
            await self.bus.close()
            return
        self._stopping.set()
        for sub in self._subscriptions:
            try:
                await sub.drain()
            except Exception:
                logger.debug("subscription drain failed", exc_info=True)
        if self.persistent:
            # Let each persistent actor commit the batch in hand before its task is cancelled.
            await asyncio.wait(self.persistent, timeout=self.drain_timeout_s)
        await self.supervisor.stop()
        for pull in self._pulls:
            # Fetched but unhandled frames are not acked; JetStream redelivers them.
            try:
                await pull.unsubscribe()
            except Exception:
                logger.debug("pull unsubscribe failed", exc_info=True)
        names = list(self.mailboxes)
        results = await asyncio.gather(
            *(self.mailboxes[name].join(self.drain_timeout_s) for name in names)
        )
        for name, drained in zip(names, results):
            if not drained:
                logger.warning("%s did not drain in time", name)
                await self.mailboxes[name].cancel()
        for actor in reversed(self.actors):
            try:
                await actor.on_stop()
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
