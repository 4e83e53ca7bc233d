"""One local Ray (2 CPUs) for the whole session, and the AI application on it with scripted tiers.

The application is the real one (``build_app``): tiers and router as Ray Serve deployments,
the router's bus bridge answering on the session's NATS server.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from loreweave.actors.runtime import Bus
from loreweave.serve import AIClient, ServeConfig, parse_serve_config

REPO = Path(__file__).resolve().parents[2]
os.environ["HF_HUB_OFFLINE"] = "1"

_SMALL = {"num_cpus": 0.05}
SCRIPTED_ARGS: dict[str, Any] = {
    "app_name": "lw-test-ai",
    "tiers": {
        "gold": {"latency_budget_ms": 2000, "first_token_ms": 1000, "resources": _SMALL,
                 "max_ongoing_requests": 256},
        "bronze": {"latency_budget_ms": 2000, "resources": _SMALL, "max_ongoing_requests": 256},
        "broken": {"engine": "tests.serve.fault_engines:BrokenEngine", "resources": _SMALL},
        "slow": {"engine_args": {"first_token_delay_ms": 3000}, "latency_budget_ms": 400,
                 "resources": _SMALL},
    },
    "router": {
        "routes": {"dialogue": ["gold", "bronze"], "narrative": ["gold", "bronze"], "background": ["bronze"]},
        "max_in_flight": 24,
        "shared_caps": True,  # the caps test goes through the NATS key-value bucket
        "failure_threshold": 1000,
        "resources": _SMALL,
        "worlds": {
            "default": {},
            "broken-world": {"routes": {"dialogue": ["broken", "bronze"]}},
            "slow-world": {"routes": {"dialogue": ["slow", "bronze"]}},
            "capped-world": {"requests_per_minute": 3},
            "scripted-world": {"qos": "scripted"},
        },
    },
    "bridge": {"resources": _SMALL},
}


@dataclass
class AIApp:
    """The deployed test application and how to reach it (the router answers on NATS too)."""

    config: ServeConfig
    router: Any
    tiers: dict[str, Any]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local Ray with 2 CPUs and Serve (no HTTP proxy) for the session; shut down at the end."""
    import ray
    from ray import serve

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        namespace="loreweave-tests",
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}},
    )
    serve.start(proxy_location="Disabled", http_options={"host": "127.0.0.1"})
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()


async def deploy(args: dict[str, Any]) -> AIApp:
    """Deploy an application built from ``args`` and return its handles."""
    from ray import serve

    from loreweave.serve.deployments import ROUTER_DEPLOYMENT, build_app

    config = parse_serve_config(args)
    await asyncio.to_thread(serve.run, build_app(config), name=config.app_name, route_prefix=None)
    name = config.app_name
    return AIApp(
        config=config,
        router=serve.get_deployment_handle(ROUTER_DEPLOYMENT, name),
        tiers={tier: serve.get_deployment_handle(f"tier-{tier}", name) for tier in config.tiers},
    )


@pytest.fixture(scope="session")
async def ai_app(ray_cluster: None, nats_server_url: str) -> AsyncIterator[AIApp]:
    """The scripted AI application, its bridge on the session's NATS server."""
    from ray import serve

    args = {**SCRIPTED_ARGS, "bridge": {**SCRIPTED_ARGS["bridge"], "nats_url": nats_server_url}}
    app = await deploy(args)
    yield app
    await asyncio.to_thread(serve.delete, app.config.app_name)


@pytest.fixture
async def ai_client(nats_server_url: str) -> AsyncIterator[AIClient]:
    """An AI client on its own bus connection, as an actor would hold one."""
    bus = await Bus.connect(nats_server_url, name="test-ai-client")
    yield AIClient(bus)
    await bus.close()
