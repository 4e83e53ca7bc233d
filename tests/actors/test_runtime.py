"""The actor runtime against a real nats-server."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import msgpack
import pytest

from loreweave.actors.runtime import Actor, Bus, Context, RequestError, every, frame_for, on, reply
from loreweave.actors.runtime.telemetry import HANDLER_DURATION_EVERY
from loreweave.protocol import DLQ_ERROR, DLQ_REASON, DLQ_SUBJECT, Frame, LoreweaveError, encode_frame
from loreweave.schemas import NpcSaid, PlayerJoined, PlayerMoved, PlayerSpoke

from .conftest import counter_value, eventually, metric_points


async def collect(bus: Bus, subject: str) -> list[Any]:
    """Start collecting messages on ``subject``; returns the live list."""
    received: list[Any] = []

    async def keep(msg: Any) -> None:
        received.append(msg)

    await bus.nc.subscribe(subject, cb=keep)
    await bus.sync()
    return received


async def test_frames_of_one_key_are_handled_in_order_and_keys_in_parallel(bus, start_node, world) -> None:
    seen: dict[str, list[int]] = {}
    active: dict[str, int] = {}
    overlaps = 0

    class Tracker(Actor):
        name = f"tracker-{world}"

        @on(f"lw.{world}.player.moved")  # PlayerMoved declares key=player_id
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            nonlocal overlaps
            active[event.player_id] = active.get(event.player_id, 0) + 1
            overlaps += active[event.player_id] > 1
            await asyncio.sleep(random.random() / 500)
            seen.setdefault(event.player_id, []).append(int(event.region))
            active[event.player_id] -= 1

    await start_node(Tracker())
    for number in range(300):
        player = f"p{number % 3}"
        await bus.emit(PlayerMoved(player_id=player, region=str(number)), world, source="test")
    await eventually(lambda: sum(map(len, seen.values())) == 300)
    assert overlaps == 0
    for numbers in seen.values():
        assert numbers == sorted(numbers)
    assert max(max(active.values()), 0) == 0


async def test_one_key_keeps_its_order_when_a_full_mailbox_sends_frames_through_the_client_queue(
    bus, start_node, world
) -> None:
    # With room, a frame goes from the client's reader straight into the mailbox; without, it
    # waits in the subscription's queue. Frames keep arriving while the queue drains, so both
    # ways alternate; the handler must still see one key's frames in publish order, none lost.
    seen: list[int] = []

    class Tracker(Actor):
        name = f"queued-{world}"

        @on(f"lw.{world}.player.moved")
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            await asyncio.sleep(random.random() / 2000)
            seen.append(int(event.region))

    node = await start_node(Tracker(), capacity=2)  # the client queues 16 at most: publish under that
    for number in range(240):
        if number % 6 == 0:
            await eventually(lambda: len(seen) >= number - 8)
        await bus.emit(PlayerMoved(player_id="p0", region=str(number)), world, source="test")
    await eventually(lambda: len(seen) == 240)
    assert seen == list(range(240))
    assert node.bus.slow_consumer_drops == 0


async def test_a_slow_key_does_not_block_other_keys(bus, start_node, world) -> None:
    fast_done = asyncio.Event()
    order: list[str] = []

    class Waiter(Actor):
        name = f"waiter-{world}"

        @on(f"lw.{world}.player.moved")
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            if event.player_id == "slow":
                await asyncio.wait_for(fast_done.wait(), 3)
            else:
                fast_done.set()
            order.append(event.player_id)

    await start_node(Waiter())
    await bus.emit(PlayerMoved(player_id="slow", region="a"), world, source="test")
    await bus.emit(PlayerMoved(player_id="fast", region="a"), world, source="test")
    await eventually(lambda: len(order) == 2)
    assert order == ["fast", "slow"]


async def test_durable_backpressure_bounds_what_is_held_and_loses_nothing(bus, start_node, world) -> None:
    handled: list[str] = []
    peak = 0

    class Slow(Actor):
        name = f"slow-{world}"

        @on(f"lw.{world}.player.joined", durable=True, key=lambda frame: frame.id)
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            nonlocal peak
            peak = max(peak, node.runners[0].mailbox.held)
            await asyncio.sleep(0.002)
            handled.append(event.player_id)

    node = await start_node(Slow(), capacity=4)
    for number in range(150):
        await bus.publish(frame_for(PlayerJoined(player_id=f"p{number}"), world, "test"), durable=True)
    await eventually(lambda: len(handled) == 150, timeout=15)
    assert peak <= 4
    assert sorted(handled) == sorted(f"p{n}" for n in range(150))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda world: os.urandom(64), "malformed"),
        (lambda world: encode_frame(frame_for(PlayerJoined(player_id="p"), world, "t"))[:-7], "malformed"),
        (lambda world: encode_frame(Frame(type="player.joined", world=world, payload={"player_id": "p", "pad": "x" * 700}, source="t")),
         "too_large"),
        (lambda world: encode_frame(Frame(type="player.danced", world=world, payload={}, source="t")),
         "unknown_type"),
        (lambda world: encode_frame(Frame(type="player.joined", world=world, payload={"player_id": 5}, source="t")),
         "invalid_payload"),
        (lambda world: encode_frame(Frame(type="player.joined", world=world, payload={}, source="t", version="9.0")),
         "bad_version"),
    ],
)
async def test_undecodable_frames_go_to_the_dead_letter_subject_with_their_reason(
    bus, start_node, world, make, reason
) -> None:
    handled: list[Any] = []

    class Sink(Actor):
        name = f"sink-{world}"

        @on(f"lw.{world}.player.>")
        async def any_player(self, event: Any, ctx: Context) -> None:
            handled.append(event)

    dead = await collect(bus, f"lw.dlq.{reason}")
    await start_node(Sink(), max_frame_bytes=600)
    before = counter_value("lw.frames.dead_lettered", **{"lw.reason": reason})
    data = make(world)
    # The subject is authoritative: an unknown type travels on its own subject (else: subject_mismatch).
    subject = f"lw.{world}.player.{'danced' if reason == 'unknown_type' else 'joined'}"
    await bus.nc.publish(subject, data)
    await eventually(lambda: any(msg.data == data for msg in dead))
    letter = next(msg for msg in dead if msg.data == data)
    assert letter.headers[DLQ_REASON] == reason
    assert letter.headers[DLQ_SUBJECT] == subject
    assert letter.headers[DLQ_ERROR]
    assert handled == []
    assert counter_value("lw.frames.dead_lettered", **{"lw.reason": reason}) == before + 1


async def test_dead_letters_are_kept_in_the_dlq_stream(bus, start_node, world) -> None:
    class Sink(Actor):
        name = f"keep-{world}"

        @on(f"lw.{world}.player.joined")
        async def joined(self, event: Any, ctx: Context) -> None:
            pass

    await start_node(Sink())
    marker = f"garbage-{world}".encode()
    await bus.nc.publish(f"lw.{world}.player.joined", marker)
    sub = await bus.js.subscribe("lw.dlq.malformed", ordered_consumer=True)

    async def stored() -> bool:
        try:
            while True:
                msg = await sub.next_msg(timeout=0.2)
                if msg.data == marker:
                    return True
        except Exception:
            return False

    await eventually(stored)


async def test_a_failing_handler_is_retried_then_dead_lettered_and_the_actor_goes_on(
    bus, start_node, world
) -> None:
    attempts: dict[str, int] = {}
    handled: list[str] = []

    class Fragile(Actor):
        name = f"fragile-{world}"

        @on(f"lw.{world}.player.joined")
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            attempts[event.player_id] = attempts.get(event.player_id, 0) + 1
            if event.player_id == "cursed":
                raise ValueError("the curse")
            handled.append(event.player_id)

    dead = await collect(bus, "lw.dlq.handler_failed")
    await start_node(Fragile(), attempts=3)
    cursed = await bus.emit(PlayerJoined(player_id="cursed"), world, source="test")
    await bus.emit(PlayerJoined(player_id="blessed"), world, source="test")
    await eventually(lambda: any(f"lw.{world}." in msg.headers[DLQ_SUBJECT] for msg in dead))
    await eventually(lambda: handled == ["blessed"])
    assert attempts["cursed"] == 3
    letter = next(msg for msg in dead if f"lw.{world}." in msg.headers[DLQ_SUBJECT])
    assert "ValueError: the curse" in letter.headers[DLQ_ERROR]
    assert msgpack.unpackb(letter.data)["id"] == cursed.id


async def test_a_timer_that_dies_is_restarted_with_backoff(start_node, world) -> None:
    ticks: list[int] = []

    class Flaky(Actor):
        name = f"flaky-{world}"

        @every(0.01)
        async def tick(self) -> None:
            ticks.append(len(ticks))
            if len(ticks) <= 2:
                raise RuntimeError("tick failed")

    node = await start_node(Flaky())
    await eventually(lambda: len(ticks) >= 5)
    assert node.supervisor.restart_counts[f"{Flaky.name}.tick"] == 2
    assert counter_value("lw.actor.restarts", **{"lw.task": f"{Flaky.name}.tick"}) == 2


async def test_a_slow_tick_is_skipped_over_not_made_up_in_a_burst(start_node, world) -> None:
    loop = asyncio.get_running_loop()
    at: list[float] = []

    class Slow(Actor):
        name = f"slow-{world}"

        @every(0.02)
        async def tick(self) -> None:
            at.append(loop.time())
            if len(at) == 2:
                await asyncio.sleep(0.3)  # fifteen periods late

    await start_node(Slow())
    await eventually(lambda: len(at) >= 6)
    gaps = [later - earlier for earlier, later in zip(at[2:], at[3:])]
    assert min(gaps) >= 0.015, gaps  # the missed ticks did not run back to back


async def test_stop_does_not_wait_for_a_long_timer(start_node, world) -> None:
    ticked = asyncio.Event()

    class Hourly(Actor):
        name = f"hourly-{world}"

        @every(3600)
        async def tick(self) -> None:
            ticked.set()

    node = await start_node(Hourly())
    await asyncio.wait_for(node.stop(), timeout=10)
    assert not ticked.is_set()


async def test_request_reply_and_typed_error_replies(bus, start_node, world) -> None:
    class Oracle(Actor):
        name = f"oracle-{world}"

        @reply(f"lw.rpc.{world}.player.spoke")
        async def answer(self, event: PlayerSpoke, ctx: Context) -> NpcSaid:
            if event.text == "riddle":
                raise LoreweaveError("text", "riddles are not answered")
            if event.text == "crash":
                raise RuntimeError("oops")
            return NpcSaid(npc_id=event.npc_id, text=f"You said {event.text}", to_player=event.player_id)

    await start_node(Oracle())
    question = frame_for(PlayerSpoke(player_id="p1", npc_id="sage", text="hello"), world, "test")
    answer = await bus.request(question, timeout=2)
    assert answer.payload.text == "You said hello"
    assert answer.causation_id == question.id and answer.correlation_id == question.correlation_id
    with pytest.raises(RequestError) as raised:
        await bus.request(frame_for(PlayerSpoke(player_id="p1", npc_id="sage", text="riddle"), world, "t"))
    assert (raised.value.code, raised.value.field) == ("bad_request", "text")
    with pytest.raises(RequestError) as raised:
        await bus.request(frame_for(PlayerSpoke(player_id="p1", npc_id="sage", text="crash"), world, "t"))
    assert raised.value.code == "handler_failed"
    with pytest.raises(RequestError) as raised:
        await bus.request(question, timeout=1, subject=f"lw.rpc.{world}.nobody.home")
    assert raised.value.code == "no_responders"


def test_reply_handlers_refuse_journaled_subjects() -> None:
    from loreweave.protocol import SubjectError

    for journaled in ("lw.*.world.query", "lw.w1.>", ">", "lw.>"):
        with pytest.raises(SubjectError):
            reply(journaled)
    for fine in ("lw.rpc.*.world.query", "lw.rpc.>", "lw.ai.generate", "game.other"):
        reply(fine)


async def test_trace_context_crosses_two_hops(bus, start_node, world, spans) -> None:
    from opentelemetry import trace

    class Greeter(Actor):
        name = f"greeter-{world}"

        @on(f"lw.{world}.player.joined")
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            await ctx.emit(PlayerSpoke(player_id=event.player_id, npc_id="guard", text="hi"))

    class Guard(Actor):
        name = f"guard-{world}"

        @on(f"lw.{world}.player.spoke")
        async def spoke(self, event: PlayerSpoke, ctx: Context) -> None:
            await ctx.emit(NpcSaid(npc_id="guard", text="Halt", to_player=event.player_id))

    said = await collect(bus, f"lw.{world}.npc.said")
    await start_node(Greeter(), Guard())
    with trace.get_tracer("game-server").start_as_current_span("game-server.join") as root:
        await bus.emit(PlayerJoined(player_id="p1"), world, source="game-server")
    await eventually(lambda: len(said) == 1)
    await eventually(lambda: len([s for s in spans.get_finished_spans() if world in s.name]) == 2)
    by_name = {span.name: span for span in spans.get_finished_spans()}
    greeter, guard = by_name[f"{Greeter.name}.joined"], by_name[f"{Guard.name}.spoke"]
    trace_id = root.get_span_context().trace_id
    assert greeter.context.trace_id == guard.context.trace_id == trace_id
    assert greeter.parent.span_id == root.get_span_context().span_id
    assert guard.parent.span_id == greeter.context.span_id
    assert f"{trace_id:032x}" in said[0].headers["traceparent"]
    frame = bus.decode(said[0].data)
    assert said[0].headers["Nats-Msg-Id"] == frame.id


async def test_handler_latency_and_counters_are_recorded(bus, start_node, world) -> None:
    done: list[str] = []

    class Counted(Actor):
        name = f"counted-{world}"

        @on(f"lw.{world}.player.joined")
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            done.append(event.player_id)

    await start_node(Counted())
    for number in range(5):
        await bus.emit(PlayerJoined(player_id=f"p{number}"), world, source="test")
    await eventually(lambda: len(done) == 5)
    assert counter_value("lw.frames.handled", **{"lw.actor": Counted.name}) == 5
    # Durations are measured on one frame in HANDLER_DURATION_EVERY, the first included.
    histogram = [p for p in metric_points("lw.handler.duration") if p.attributes["lw.actor"] == Counted.name]
    assert histogram and histogram[0].count == 1
    for number in range(5, HANDLER_DURATION_EVERY + 1):
        await bus.emit(PlayerJoined(player_id=f"p{number}"), world, source="test")
    await eventually(lambda: len(done) == HANDLER_DURATION_EVERY + 1)
    histogram = [p for p in metric_points("lw.handler.duration") if p.attributes["lw.actor"] == Counted.name]
    assert histogram[0].count == 2


async def test_stop_drains_in_flight_frames(bus, start_node, world) -> None:
    finished: list[str] = []
    started = asyncio.Event()

    class Careful(Actor):
        name = f"careful-{world}"

        @on(f"lw.{world}.player.joined", key=lambda frame: frame.id)
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            started.set()
            await asyncio.sleep(0.3)
            finished.append(event.player_id)

    node = await start_node(Careful())
    for number in range(5):
        await bus.emit(PlayerJoined(player_id=f"p{number}"), world, source="test")
    await asyncio.wait_for(started.wait(), 3)
    await node.stop()
    assert sorted(finished) == [f"p{n}" for n in range(5)]
    await bus.emit(PlayerJoined(player_id="late"), world, source="test")
    await asyncio.sleep(0.4)
    assert "late" not in finished


async def test_duplicate_frame_ids_are_handled_once(bus, start_node, world) -> None:
    handled: list[str] = []

    class Once(Actor):
        name = f"once-{world}"

        @on(f"lw.{world}.player.joined")
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            handled.append(event.player_id)

    await start_node(Once())
    frame = frame_for(PlayerJoined(player_id="p1"), world, "test")
    for _ in range(3):
        await bus.publish(frame)
    await bus.emit(PlayerJoined(player_id="p2"), world, source="test")
    await eventually(lambda: "p2" in handled)
    await asyncio.sleep(0.1)
    assert handled.count("p1") == 1


async def test_durable_actor_redelivers_after_a_crash_without_duplicate_effects(
    bus, nats_server_url, world, tmp_path
) -> None:
    import sys

    total = 20
    for number in range(total):
        await bus.publish(frame_for(PlayerMoved(player_id="p1", region=str(number)), world, "test"), durable=True)
    marker = tmp_path / "crashed"
    env = {**os.environ, "LOREWEAVE_NATS_URL": nats_server_url}
    command = [sys.executable, "-m", "tests.actors.crashing_actor", world, "7", str(marker), str(total)]
    first = await asyncio.create_subprocess_exec(*command, env=env)
    assert await asyncio.wait_for(first.wait(), 30) == -9, "the actor should have been SIGKILLed"
    assert marker.exists()
    second = await asyncio.create_subprocess_exec(*command, env=env)
    assert await asyncio.wait_for(second.wait(), 30) == 0

    info = await bus.js.stream_info("LOREWEAVE", subjects_filter=f"lw.{world}.npc.said")
    assert info.state.subjects == {f"lw.{world}.npc.said": total}, "an effect was lost or duplicated"
    sub = await bus.js.subscribe(f"lw.{world}.npc.said", ordered_consumer=True)
    texts = [bus.decode((await sub.next_msg(timeout=2)).data).payload.text for _ in range(total)]
    assert texts == [f"saw {n}" for n in range(total)]


async def test_one_key_never_runs_in_two_handlers_of_an_actor_at_once(bus, start_node, world) -> None:
    from loreweave.schemas import PlayerLeft

    active: dict[str, int] = {}
    overlaps = 0
    handled = 0

    class Sessions(Actor):
        name = f"sessions-{world}"

        async def _enter(self, player: str) -> None:
            nonlocal overlaps, handled
            active[player] = active.get(player, 0) + 1
            overlaps += active[player] > 1
            await asyncio.sleep(random.random() / 500)
            active[player] -= 1
            handled += 1

        @on(f"lw.{world}.player.joined")
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            await self._enter(event.player_id)

        @on(f"lw.{world}.player.left")
        async def left(self, event: PlayerLeft, ctx: Context) -> None:
            await self._enter(event.player_id)

    await start_node(Sessions())
    for _ in range(20):
        for player in ("p1", "p2"):
            await bus.emit(PlayerJoined(player_id=player), world, source="test")
            await bus.emit(PlayerLeft(player_id=player), world, source="test")
    await eventually(lambda: handled == 80)
    assert overlaps == 0


async def test_handlers_with_overlapping_patterns_each_get_every_frame(bus, start_node, world) -> None:
    seen = {"any": 0, "moved": 0}

    class Overlap(Actor):
        name = f"overlap-{world}"

        @on(f"lw.{world}.player.>")
        async def any_player(self, event: Any, ctx: Context) -> None:
            seen["any"] += 1

        @on(f"lw.{world}.player.moved")
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            seen["moved"] += 1

    await start_node(Overlap())
    for number in range(30):
        await bus.emit(PlayerMoved(player_id=f"p{number}", region="r"), world, source="test")
    await eventually(lambda: seen == {"any": 30, "moved": 30})


async def test_a_bad_frame_seen_by_several_actors_is_kept_once_in_the_dlq(bus, start_node, world) -> None:
    def sink(index: int) -> Actor:
        class Sink(Actor):
            name = f"sink{index}-{world}"

            @on(f"lw.{world}.player.>")
            async def any_player(self, event: Any, ctx: Context) -> None:
                pass

        return Sink()

    await start_node(sink(1), sink(2), sink(3))
    marker = f"not a frame {world}".encode()
    info = await bus.js.stream_info("LOREWEAVE_DLQ")
    before = info.state.messages
    counted = counter_value("lw.frames.dead_lettered", **{"lw.reason": "malformed"})
    await bus.nc.publish(f"lw.{world}.player.joined", marker)
    await eventually(
        lambda: counter_value("lw.frames.dead_lettered", **{"lw.reason": "malformed"}) == counted + 3
    )
    info = await bus.js.stream_info("LOREWEAVE_DLQ")
    assert info.state.messages == before + 1
