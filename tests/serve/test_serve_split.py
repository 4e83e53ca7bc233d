"""The ECS layout on Ray Serve: tiers as services of their own, the router reaching them over NATS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from loreweave.actors.runtime import Bus
from loreweave.cli.serve import run_serve
from loreweave.serve import AIClient, GenerateRequest, Resources, ServeConfig, Unavailable, load_serve_config, local_profile

pytestmark = pytest.mark.slow
SERVE_YAML = Path(__file__).resolve().parents[2] / "deploy" / "ray-cluster" / "serve.yaml"


def split_config() -> ServeConfig:
    """The shipped serve.yaml, scripted, sized for the test Ray, its bridge on subjects of its own."""
    config = local_profile(load_serve_config(SERVE_YAML))
    tiny = Resources(num_cpus=0.05)
    return config.model_copy(
        update={
            "app_name": "lw-test-split",
            "tiers": {name: tier.model_copy(update={"resources": tiny}) for name, tier in config.tiers.items()},
            "router": config.router.model_copy(update={"resources": tiny}),
            "bridge": config.bridge.model_copy(
                update={"resources": tiny, "subject": "lw.ai.generate-split", "stream_subject": "lw.ai.stream-split",
                        "queue": "split"}
            ),
        }
    )


async def test_tier_services_answer_a_router_service_over_nats(
    ray_cluster: None, nats_server_url: str, world: str
) -> None:
    from ray import serve

    config = split_config()
    stop = asyncio.Event()
    services = [  # gold's service is not started: its calls find nobody and fall back
        asyncio.create_task(run_serve(config, nats_url=nats_server_url, stop=stop, tiers=["silver", "bronze"])),
        asyncio.create_task(run_serve(config, nats_url=nats_server_url, stop=stop, router_only=True)),
    ]
    bus = await Bus.connect(nats_server_url, name="test-split-client")
    client = AIClient(bus, subject="lw.ai.generate-split", stream_subject="lw.ai.stream-split")
    try:
        deadline = time.monotonic() + 120
        while True:
            for service in services:
                assert not service.done(), service.exception()
            try:
                narrative = await client.generate(world, GenerateRequest(kind="narrative", prompt="x"), timeout=2)
                if narrative.tier == "silver":
                    break
            except Unavailable:
                pass
            assert time.monotonic() < deadline, "the split services never answered from silver"
            await asyncio.sleep(0.5)
        assert narrative.text and narrative.fallbacks == []
        assert {"lw-test-split-silver-bronze", "lw-test-split-router"} <= set(serve.status().applications)

        dialogue = await client.generate(world, GenerateRequest(kind="dialogue", prompt="x"), timeout=3)
        assert dialogue.tier == "bronze" and "nobody answers on lw.ai.tier.gold.generate" in dialogue.fallbacks[0]

        async with client.stream(world, GenerateRequest(kind="narrative", prompt="x"), timeout=3) as answer:
            chunks = [chunk async for chunk in answer]
        assert len(chunks) > 1 and answer.result is not None and answer.result.tier == "silver"
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*services), 60)
        await bus.close()
    assert not {"lw-test-split-silver-bronze", "lw-test-split-router"} & set(serve.status().applications)
