"""The chaos rig: fresh servers, the proxy, the node under test, and the game server's connection.

Everything a run needs lives in one temporary directory made for it: the embedded nats-server
and PostgreSQL (unless URLs are given), the quest file, the node's data and its log. With a
given PostgreSQL the run still gets a database of its own, dropped at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from nats.js.errors import NotFoundError

from loreweave.actors.runtime import Bus
from loreweave.actors.runtime.bus import EVENTS_STREAM
from loreweave.embedded import EmbeddedNats, EmbeddedPostgres
from loreweave.security.credentials import redact_url
from loreweave.testing.databases import fresh_database
from loreweave.testing.node import NodeProcess, loreweave_run, node_env
from loreweave.testing.proxy import ChaosProxy

#: The actors under test, hosted by one node.
ACTORS_UNDER_TEST = ("quests", "payments", "journal")
#: The quest every chaos player takes: one counter that never fills, so its progress counts
#: every ``player.collected`` frame applied (objective counts stop at 10,000).
QUEST_ID = "chaos-embers"
OBJECTIVE_ID = "embers"
ITEM = "ember"
MAX_PER_PLAYER = 9_999
QUEST_FILE = f"""\
id: {QUEST_ID}
title: Count every ember
summary: One counter that never fills, so quest_state counts every player.collected frame applied.
objectives:
  - {{id: {OBJECTIVE_ID}, kind: collect, target: {ITEM}, count: 10000}}
"""

Say = Callable[[str], None]


@dataclass(frozen=True)
class ChaosConfig:
    """What a chaos run does.

    Attributes:
        kills: SIGKILLs of the node in the ``kills`` scenario.
        cuts: connection cuts (bytes to the node dropped first) in the ``cuts`` scenario.
        burst: frames published at once in the ``burst`` scenario.
        seed: seed of every random choice (moments of faults, the workload's mix).
        players: players of the ``kills`` and ``cuts`` scenarios.
        rate: frames per second the game server sends while faults happen.
        scenarios: which scenarios run, in order.
        nats_url: a NATS server to use instead of an embedded one.
        database_url: a PostgreSQL server to use (a fresh database is made in it) instead of an embedded one.
        keep: keep the run's directory (logs, data) instead of deleting it.
        settle_s: how long the actors may take to catch up once the faults stop.
    """

    kills: int = 20
    cuts: int = 10
    burst: int = 50_000
    seed: int = 0
    players: int = 6
    rate: float = 150.0
    scenarios: tuple[str, ...] = ("kills", "cuts", "burst")
    nats_url: str | None = None
    database_url: str | None = None
    keep: bool = False
    settle_s: float = 180.0

    @classmethod
    def quick(cls, **overrides: object) -> ChaosConfig:
        """A short run: a few kills, one cut, a small burst."""
        values: dict[str, object] = {"kills": 3, "cuts": 1, "burst": 2_000, "players": 4, "rate": 100.0,
                                     "settle_s": 60.0}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def node_command(quests_dir: Path, seed: int) -> list[str]:
    """``loreweave run --actors quests,payments,journal``."""
    return loreweave_run(ACTORS_UNDER_TEST, seed=seed, quests_dir=quests_dir)


@dataclass
class Rig:
    """The servers, the proxy in front of NATS, the node behind it, and the game server's side."""

    work_dir: Path
    nats_url: str
    dsn: str
    proxy: ChaosProxy
    node: NodeProcess
    bus: Bus
    pool: asyncpg.Pool | None = None
    consumers: tuple[str, ...] = field(default=("persist-quests", "persist-journal"))
    exits: list[str] = field(default_factory=list)

    async def ensure_node(self, timeout: float = 90.0) -> None:
        """Start the node unless it runs; open the audit pool once its migrations are applied."""
        if not self.node.running:
            code = self.node.returncode
            if self.node.starts and code != -signal.SIGKILL:
                last = self.node.lines[-1] if self.node.lines else ""
                self.exits.append(f"the node exited by itself with code {code}: {last}")
            await self.node.start(timeout)
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)

    def take_exits(self) -> list[str]:
        """Notes on node exits nobody asked for and on errors it logged, since the last call."""
        exits, self.exits = self.exits, []
        errors = self.node.take_errors()
        if errors:
            shown = "; ".join(line.split(": ", 1)[-1] for line in errors[:3])
            exits.append(f"the node logged {len(errors)} errors (node.log; --keep keeps it), first: {shown}")
        return exits

    async def outbox_backlog(self) -> int:
        """Emitted frames committed but not yet published (0 where the schema has no outbox)."""
        assert self.pool is not None
        if await self.pool.fetchval("SELECT to_regclass('frame_outbox') IS NULL"):
            return 0
        return int(await self.pool.fetchval("SELECT count(*) FROM frame_outbox"))

    async def stream_last_seq(self) -> int:
        """The LOREWEAVE stream's last sequence."""
        info = await self.bus.js.stream_info(EVENTS_STREAM)
        return int(info.state.last_seq)

    async def backlog(self) -> dict[str, int | None]:
        """Per persistent consumer: frames not yet applied (pending + unacknowledged); None if it does not exist."""
        found: dict[str, int | None] = {}
        for name in self.consumers:
            try:
                info = await self.bus.js.consumer_info(EVENTS_STREAM, name)
            except NotFoundError:
                found[name] = None
                continue
            found[name] = int(info.num_pending) + int(info.num_ack_pending)
        return found


@contextlib.asynccontextmanager
async def open_rig(config: ChaosConfig, say: Say) -> AsyncIterator[Rig]:
    """Start what a run needs (the node is started by the first scenario), and stop it all afterwards."""
    work_dir = Path(tempfile.mkdtemp(prefix="lw-chaos-"))
    async with contextlib.AsyncExitStack() as stack:
        # Registered first, so it runs last: after the node and the servers have stopped.
        if config.keep:
            stack.callback(say, f"chaos: kept {work_dir}")
        else:
            stack.callback(shutil.rmtree, work_dir, ignore_errors=True)
        nats_url = config.nats_url
        if nats_url is None:
            nats = EmbeddedNats(work_dir / "nats")
            await nats.start()
            stack.push_async_callback(nats.stop)
            nats_url = nats.client_url()
        server_dsn = config.database_url
        if server_dsn is None:
            postgres = EmbeddedPostgres(work_dir / "postgres")
            server_dsn = await postgres.start()
            stack.push_async_callback(postgres.stop)
        dsn = await stack.enter_async_context(fresh_database(server_dsn, "lw_chaos_"))
        quests_dir = work_dir / "quests"
        quests_dir.mkdir()
        (quests_dir / f"{QUEST_ID}.yaml").write_text(QUEST_FILE)
        proxy = await ChaosProxy(nats_url).start()
        stack.push_async_callback(proxy.stop)
        bus = await Bus.connect(nats_url, name="chaos-game-server")
        stack.push_async_callback(bus.close)
        await bus.ensure_streams()
        node = NodeProcess(
            node_command(quests_dir, config.seed), node_env(proxy.url, dsn, work_dir / "node", actor_lease_ttl_s="1",
                                                      payments_provider="test"),
            log_path=work_dir / "node.log",
        )
        stack.push_async_callback(node.terminate)
        say(f"chaos: nats {redact_url(nats_url)} (the node through proxy {redact_url(proxy.url)}), database {urlsplit(dsn).path[1:]}, "
            f"work dir {work_dir}")
        rig = Rig(work_dir=work_dir, nats_url=nats_url, dsn=dsn, proxy=proxy, node=node, bus=bus)
        try:
            yield rig
        finally:
            if rig.pool is not None:
                await rig.pool.close()
