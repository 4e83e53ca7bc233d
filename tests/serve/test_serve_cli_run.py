"""``loreweave serve run``'s function: the shipped serve.yaml, locally, answering over NATS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from loreweave.actors.runtime import Bus
from loreweave.cli.serve import run_serve
from loreweave.serve import AIClient, GenerateRequest, Resources, Unavailable, load_serve_config, local_profile

pytestmark = pytest.mark.slow
SERVE_YAML = Path(__file__).resolve().parents[2] / "deploy" / "ray-cluster" / "serve.yaml"


async def test_serve_run_deploys_the_shipped_config_locally(
    ray_cluster: None, nats_server_url: str, world: str
) -> None:
    from ray import serve

    config = local_profile(load_serve_config(SERVE_YAML))
    tiny = Resources(num_cpus=0.05)
    config = config.model_copy(
        update={
            "app_name": "lw-test-cli",
            "tiers": {name: tier.model_copy(update={"resources": tiny}) for name, tier in config.tiers.items()},
            "router": config.router.model_copy(update={"resources": tiny}),
            "bridge": config.bridge.model_copy(
                update={"resources": tiny, "subject": "lw.ai.generate-cli", "stream_subject": "lw.ai.stream-cli",
                        "queue": "cli"}
            ),
        }
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_serve(config, nats_url=nats_server_url, stop=stop))
    bus = await Bus.connect(nats_server_url, name="test-cli-client")
    client = AIClient(bus, subject="lw.ai.generate-cli", stream_subject="lw.ai.stream-cli")
    try:
        deadline = time.monotonic() + 90
        while True:
            assert not running.done(), running.exception()
            try:
                result = await client.generate(world, GenerateRequest(kind="narrative", prompt="x"), timeout=2)
                break
            except Unavailable:
                assert time.monotonic() < deadline, "serve run never answered"
                await asyncio.sleep(0.5)
        assert result.tier == "silver" and result.text  # narrative: silver > bronze > scripted
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
        await bus.close()
    assert "lw-test-cli" not in serve.status().applications
