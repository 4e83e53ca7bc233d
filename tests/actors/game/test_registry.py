"""Registry: actors and models announce themselves; queries find them; silence is noticed."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest

from loreweave.actors.registry import Registry
from loreweave.actors.runtime import EVENTS_STREAM, RequestError
from loreweave.actors.settings import Settings
from loreweave.actors.weather import Weather
from loreweave.schemas import (
    MAX_HEARTBEAT_WORLDS,
    ModelHeartbeat,
    RegistryLost,
    RegistryQuery,
    RegistryRegistered,
    SettingsUpdate,
)

from .conftest import ask, eventually, record, small_map


async def test_actors_and_models_are_found_and_lost(bus, start_node, world, frames) -> None:
    await start_node(Registry(stale_after_s=0.6, sweep_s=0.05, heartbeat_s=0.1), Weather(heartbeat_s=0.1))
    await bus.emit(small_map(), world, source="test")  # the weather actor now serves this world
    await bus.emit(ModelHeartbeat(model="qwen-small", tier="small", instance="gpu-1", latency_ms=120.0,
                                  queue_depth=3), world, source="test")
    await eventually(lambda: {(r.kind, r.name) for r in frames.of(RegistryRegistered)} >=
                     {("actor", "weather"), ("actor", "registry"), ("model", "qwen-small")})

    snapshot = await ask(bus, world, RegistryQuery(subject=f"lw.{world}.clock.tick"))
    assert [entry.actor for entry in snapshot.actors] == ["weather"]
    weather = snapshot.actors[0]
    assert "lw.rpc.*.weather.get_report" in weather.subjects and weather.handled >= 1 and weather.alive
    models = (await ask(bus, world, RegistryQuery(kind="models", tier="small"))).models
    assert [(m.model, m.instance, m.queue_depth) for m in models] == [("qwen-small", "gpu-1", 3)]
    assert (await ask(bus, world, RegistryQuery(kind="models", tier="large"))).models == []

    await eventually(lambda: [(r.kind, r.name) for r in frames.of(RegistryLost)] == [("model", "qwen-small")],
                     timeout=3)
    assert (await ask(bus, world, RegistryQuery(kind="models", alive_only=True))).models == []
    assert {e.actor for e in (await ask(bus, world, RegistryQuery(alive_only=True))).actors} == {"weather", "registry"}


async def test_refused_requests_are_not_failures(bus, start_node, world) -> None:
    settings = Settings()
    await start_node(settings)
    with pytest.raises(RequestError):
        await ask(bus, world, SettingsUpdate(changes={"gravity": 1}))
    assert settings.counts[world] == [1, 0]


async def test_heartbeats_stay_one_per_instance_whatever_the_worlds_and_are_not_journaled(
    bus, start_node, world
) -> None:
    interval = 0.2
    await start_node(Registry(heartbeat_s=interval), Weather(heartbeat_s=interval))
    beats: list[dict[str, Any]] = []

    async def keep(msg: Any) -> None:
        wire = msgpack.unpackb(msg.data)
        if wire["type"] == "actor.heartbeat" and wire["payload"]["actor"] == "weather":
            beats.append(wire["payload"])

    await bus.nc.subscribe("lw.>", cb=keep)
    registered = await record(bus, "lw.*.registry.registered")
    worlds = [f"{world}-{number}" for number in range(300)]  # more than one heartbeat may list
    for name in worlds:
        await bus.emit(small_map(), name, source="test")
    await eventually(lambda: {frame.world for frame in registered.frames} >= set(worlds), timeout=15)

    stored = (await bus.js.stream_info(EVENTS_STREAM)).state.messages
    loop = asyncio.get_running_loop()
    started, seen = loop.time(), len(beats)
    await eventually(lambda: len(beats) >= seen + 5, timeout=10)
    elapsed = loop.time() - started
    assert len(beats) - seen <= elapsed / interval + 2, f"{len(beats) - seen} heartbeats in {elapsed:.2f}s"
    assert all(len(beat["worlds"]) <= MAX_HEARTBEAT_WORLDS for beat in beats)
    assert (await bus.js.stream_info(EVENTS_STREAM)).state.messages == stored

    for name in (worlds[0], worlds[-1]):  # the registry still answers per world
        weather = [entry for entry in (await ask(bus, name, RegistryQuery())).actors if entry.actor == "weather"]
        assert len(weather) == 1 and weather[0].alive and weather[0].handled == 1
