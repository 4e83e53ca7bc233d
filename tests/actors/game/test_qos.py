"""QoS: quality levels from AI latency and queue depth, with hysteresis."""

from __future__ import annotations

import pytest

from loreweave.actors.qos import Qos, QosThresholds
from loreweave.protocol import ConfigError
from loreweave.schemas import QosGetStatus, QosLevelChanged, QosSample

from .conftest import ask, eventually, settle


def test_thresholds_must_leave_a_band() -> None:
    with pytest.raises(ConfigError):
        QosThresholds(recover_ms=2000, reduced_ms=1500)


async def test_levels_switch_with_hysteresis(bus, start_node, world, frames) -> None:
    await start_node(Qos(thresholds=QosThresholds(window=4, hold=6)))

    async def samples(latency_ms: float, count: int, queue: int = 0, ok: bool = True) -> None:
        for _ in range(count):
            await bus.emit(QosSample(latency_ms=latency_ms, queue_depth=queue, ok=ok), world, source="test")
        await settle(frames, quiet_s=0.15)

    def levels() -> list[tuple[str, str]]:
        return [(c.previous, c.level) for c in frames.of(QosLevelChanged)]

    await samples(300, 10)
    await samples(2000, 2)  # a spike stays in the 4-sample window for 3 more samples: 5 votes, not 6
    await samples(300, 10)
    assert levels() == []
    await samples(2000, 6)
    assert levels() == [("full", "reduced")]
    await samples(1000, 20)  # inside the band (800..1500 ms): stay reduced
    assert levels() == [("full", "reduced")]
    await samples(100, 6, queue=200)  # a deep queue degrades even when calls are quick
    assert levels() == [("full", "reduced"), ("reduced", "scripted")]
    status = await ask(bus, world, QosGetStatus())
    assert status.level == "scripted" and status.queue_depth == 200
    await samples(100, 12)  # recovery takes 2 x hold good samples per level, one level at a time
    assert levels()[-1] == ("scripted", "reduced")
    await samples(100, 11)
    assert len(levels()) == 3
    await samples(100, 1)
    assert levels()[-1] == ("reduced", "full")
    await samples(0, 6, ok=False)  # failed calls count as very slow
    await eventually(lambda: levels()[-1] == ("full", "scripted"))
