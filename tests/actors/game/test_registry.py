"""Registry: actors and models announce themselves; queries find them; silence is noticed."""

from __future__ import annotations

import pytest

from loreweave.actors.registry import Registry
from loreweave.actors.runtime import RequestError
from loreweave.actors.settings import Settings
from loreweave.actors.weather import Weather
from loreweave.schemas import ModelHeartbeat, RegistryLost, RegistryQuery, RegistryRegistered, SettingsUpdate

from .conftest import ask, eventually, small_map


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
