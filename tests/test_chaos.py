"""The quick chaos run (benchmarks/chaos.py --quick): quests, payments and journal in a ``loreweave run``
node that is SIGKILLed, cut off with its bytes in flight dropped, and flooded, must apply every frame
exactly once."""

from __future__ import annotations

import pytest

from loreweave.testing.chaos import ChaosConfig, run_chaos


@pytest.mark.slow
async def test_the_quick_chaos_run_loses_and_doubles_nothing(pg_server: str) -> None:
    # Its own nats-server (the consumers persist-quests/-journal are per stream, so a shared
    # server would mix with other tests); a database of its own on the session's PostgreSQL.
    report = await run_chaos(ChaosConfig.quick(database_url=pg_server), say=print)
    print(report.render())
    assert report.final_line() == "lost 0, doubled 0", report.render()
    assert report.ok, report.render()
