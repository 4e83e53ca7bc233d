"""A takeover replays from where the old owner's snapshot really stood in the events stream:
a frame still in hand when the snapshot was taken, however long ago it was stored, is applied
by the next owner, and the frames applied after it are not applied twice."""

from __future__ import annotations

import asyncio
import time

import msgpack
from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import ActorNode, Bus, Context, frame_for, on, world_placement
from loreweave.protocol import frame_headers
from loreweave.schemas import WorldFlagSet

from .conftest import eventually
from .test_exclusive import PARTITIONS, placed_node, settings_for, stop_all


class TallyWorld(BaseModel):
    flags: list[str] = Field(default_factory=list)


class TallyState(BaseModel):
    worlds: dict[str, TallyWorld] = Field(default_factory=dict)


class Tally(GameActor[TallyState]):
    """Appends each flag it is told of; the one named ``stuck`` waits for ``gate`` first."""

    name = "tally"

    def __init__(self, gate: asyncio.Event) -> None:
        super().__init__(TallyState())
        self.gate = gate
        self.entered = asyncio.Event()

    @on("lw.*.world.flag_set")
    async def flag_set(self, event: WorldFlagSet, ctx: Context) -> None:
        if event.flag == "stuck":
            self.entered.set()
            await self.gate.wait()
        self.state.worlds.setdefault(ctx.frame.world, TallyWorld()).flags.append(event.flag)


def flags(actor: Tally, world: str) -> list[str]:
    entry = actor.state.worlds.get(world)
    return list(entry.flags) if entry else []


async def test_a_frame_in_hand_longer_than_the_replay_margin_is_applied_once_by_the_next_owner(
    nats_server_url, bus, world, database, monkeypatch
) -> None:
    monkeypatch.setattr(world_placement, "REPLAY_MARGIN_S", 0.2)  # a frame in hand for five margins
    stuck_forever = asyncio.Event()
    old = Tally(stuck_forever)
    first = await placed_node(nats_server_url, database, world, old)
    nodes = [first]
    try:
        placement = first.worlds
        assert placement is not None
        await eventually(lambda: len(placement.placement.owned) == PARTITIONS, timeout=10)

        async def flag(name: str) -> None:
            await bus.publish(frame_for(WorldFlagSet(flag=name, value=True), world, "test"), durable=True)

        await flag("before")
        await eventually(lambda: flags(old, world) == ["before"], timeout=10)
        await flag("stuck")
        await asyncio.wait_for(old.entered.wait(), 10)
        for name in ("after1", "after2", "after3"):
            await flag(name)
        await eventually(lambda: flags(old, world) == ["before", "after1", "after2", "after3"], timeout=10)
        loop = asyncio.get_running_loop()
        await asyncio.sleep(1.0)  # the frame stays in hand longer than the margin
        late = loop.time()
        await flag("after4")  # a change after that: the next snapshot is taken with the frame still in hand

        def saved_late() -> bool:
            saved = placement._saved.get(("tally", world))
            return saved is not None and saved[1] > late

        await eventually(saved_late, timeout=10, message="a snapshot after the margin")
        placement.placement.pause()  # the node freezes with the frame in hand, then its connection drops
        await first.bus.nc.close()

        new = Tally(asyncio.Event())
        new.gate.set()
        second = await placed_node(nats_server_url, database, world, new)
        nodes.append(second)
        await eventually(lambda: "stuck" in flags(new, world), timeout=15,
                         message="the frame the dead node had in hand is applied by the next owner")
        assert sorted(flags(new, world)) == sorted(["before", "after1", "after2", "after3", "after4", "stuck"]), flags(new, world)
    finally:
        stuck_forever.set()
        await stop_all(nodes)


async def test_a_snapshot_from_before_the_stream_was_made_anew_does_not_hold_new_frames_back(
    nats_server_url, bus, world, database
) -> None:
    # A snapshot saved against an events stream since deleted and re-created: its position lies
    # past the new stream's end. Taken at its word, every new frame of the world would count as
    # already applied.
    info = await bus.js.stream_info("LOREWEAVE")
    stale = msgpack.packb(
        {"s": msgpack.packb({"flags": ["old"]}), "at": time.time() - 60, "ids": [], "seq": info.state.last_seq + 10**6}
    )
    await database.state.save_keyed_snapshots([("tally", world, stale)])
    actor = Tally(asyncio.Event())
    node = await placed_node(nats_server_url, database, world, actor)
    try:
        await eventually(lambda: flags(actor, world) == ["old"], timeout=10, message="the snapshot is loaded")
        await bus.publish(frame_for(WorldFlagSet(flag="new", value=True), world, "test"), durable=True)
        await eventually(lambda: flags(actor, world) == ["old", "new"], timeout=10,
                         message="a new frame is applied, not skipped as if in the snapshot")
    finally:
        await stop_all([node])


class Ordered(GameActor[TallyState]):
    """Appends each flag of a world in the order the world's frames came, slowly."""

    name = "ordered"

    def __init__(self) -> None:
        super().__init__(TallyState())

    @on("lw.*.world.flag_set", key=lambda frame: frame.world)
    async def flag_set(self, event: WorldFlagSet, ctx: Context) -> None:
        await asyncio.sleep(0.001)
        self.state.worlds.setdefault(ctx.frame.world, TallyWorld()).flags.append(event.flag)


async def test_a_burst_into_full_mailboxes_keeps_every_frame_in_order(nats_server_url, bus, world, database) -> None:
    # Frames go from the client's reader straight into the mailbox while it has room; a full one sends
    # the rest through the subscription's queue, which must not let a later frame pass an earlier one.
    actor = Ordered()
    node = ActorNode(await Bus.connect(nats_server_url, name="small-mailboxes"), [actor], database=database,
                     exclusive=settings_for(world), capacity=4, drain_timeout_s=5)
    await node.start()
    try:
        sent = [f"f{index}" for index in range(300)]
        acks = []
        for name in sent:  # all at once: they reach the node in few reads, far faster than it handles them
            frame = frame_for(WorldFlagSet(flag=name, value=True), world, "test")
            acks.append(await bus.js.publish_async(frame.subject, bus.encode(frame), headers=frame_headers(frame)))
        await asyncio.gather(*acks)
        await eventually(lambda: len(flags(actor, world)) >= len(sent), timeout=20,
                         message="every frame of the burst is applied")
        assert flags(actor, world) == sent
    finally:
        await stop_all([node])
