"""Ray Serve deployments: one per tier, the router in front of them, and the bus bridge in front of it.

``build_app`` is the application builder named by ``deploy/ray-cluster/serve.yaml``
(``import_path: loreweave.serve.deployments:build_app``); ``serve deploy`` and
``loreweave serve run`` both go through it.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Mapping, cast

from ray import serve
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from loreweave.serve.engines import Completion, Delta
from loreweave.serve.errors import Overloaded
from loreweave.serve.messages import CallContext, GenerateChunk, GenerateRequest, GenerateResult, TierCall
from loreweave.serve.router import Router, Saturated
from loreweave.serve.tier_server import TierServer
from loreweave.serve.tiers import BridgeConfig, ServeConfig, parse_serve_config

#: Serve's per-request access log costs more CPU than a scripted answer; errors are still logged.
_LOGGING = {"enable_access_log": False}
ROUTER_DEPLOYMENT = "router"
BRIDGE_DEPLOYMENT = "bridge"


class ServeTierClient:
    """Reaches a tier through its Serve handle; cancelling the caller cancels the replica's work."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle
        self.stream_handle = handle.options(stream=True)

    async def generate(self, call: TierCall) -> Completion:
        """Ask the tier for the whole answer."""
        response = self.handle.generate.remote(call)
        try:
            completion: Completion = await response
            return completion
        except asyncio.CancelledError:
            response.cancel()
            raise
        except BackPressureError as exc:
            raise Saturated(str(exc)) from None

    async def stream(self, call: TierCall) -> AsyncIterator[Delta]:
        """Stream the tier's answer."""
        responses = cast(DeploymentResponseGenerator, self.stream_handle.stream.remote(call))
        done = False
        try:
            async for delta in responses:
                yield delta
            done = True
        except BackPressureError as exc:
            raise Saturated(str(exc)) from None
        finally:
            if not done:
                responses.cancel()


class ServeRouterClient:
    """Reaches the router through its Serve handle (what the bridge uses)."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle
        self.stream_handle = handle.options(stream=True)

    async def generate(self, request: GenerateRequest, ctx: CallContext) -> GenerateResult:
        """Route a request and return the whole answer."""
        response = self.handle.generate.remote(request, ctx)
        try:
            result: GenerateResult = await response
            return result
        except asyncio.CancelledError:
            response.cancel()
            raise
        except BackPressureError:
            raise Overloaded("router", "the router's queue is full") from None

    async def stream(self, request: GenerateRequest, ctx: CallContext) -> AsyncIterator[GenerateChunk | GenerateResult]:
        """Route a request and stream its answer."""
        responses = cast(DeploymentResponseGenerator, self.stream_handle.stream.remote(request, ctx))
        done = False
        try:
            async for item in responses:
                yield item
            done = True
        except BackPressureError:
            raise Overloaded("router", "the router's queue is full") from None
        finally:
            if not done:
                responses.cancel()


class AIRouter:
    """The router deployment: :class:`~loreweave.serve.router.Router` over the tiers' handles."""

    def __init__(self, config: Mapping[str, Any], tiers: Mapping[str, DeploymentHandle]) -> None:
        serve_config = parse_serve_config(config)
        clients = {name: ServeTierClient(handle) for name, handle in tiers.items()}
        self.router = Router(serve_config.router, serve_config.tiers, clients)

    async def generate(self, request: GenerateRequest, ctx: CallContext) -> GenerateResult:
        """Route one request (see :meth:`Router.generate`)."""
        return await self.router.generate(request, ctx)

    async def stream(self, request: GenerateRequest, ctx: CallContext) -> AsyncIterator[GenerateChunk | GenerateResult]:
        """Route one request and stream it (see :meth:`Router.stream`)."""
        async for item in self.router.stream(request, ctx):
            yield item

    def stats(self) -> dict[str, Any]:
        """The router's counters."""
        return self.router.stats()


class BusBridge:
    """The bridge deployment: answers ``lw.ai.generate`` on NATS through the router's handle."""

    async def __init__(self, bridge: Mapping[str, Any], router: DeploymentHandle) -> None:  # type: ignore[misc]
        from loreweave.serve.bridge import Bridge

        self.bridge = await Bridge.connect(BridgeConfig.model_validate(bridge), ServeRouterClient(router))

    async def check_health(self) -> None:
        """Unhealthy while the NATS connection is down (Serve restarts the replica)."""
        if not self.bridge.connected:
            raise RuntimeError("bridge: not connected to NATS")

    def stats(self) -> dict[str, Any]:
        """The bridge's counters."""
        return self.bridge.stats()

    async def __del__(self) -> None:  # pragma: no cover - called by Serve on shutdown
        await self.bridge.close()


def build_app(args: Mapping[str, Any] | ServeConfig) -> serve.Application:
    """Build the Serve application: tiers → router (→ bridge, when enabled).

    Raises:
        ConfigError: naming the first refused field of ``args``.
    """
    config = args if isinstance(args, ServeConfig) else parse_serve_config(args)
    tiers = {}
    for name, tier in config.tiers.items():
        tiers[name] = (
            serve.deployment(
                name=tier.deployment_name,
                max_ongoing_requests=tier.max_ongoing_requests,
                max_queued_requests=tier.max_queued_requests,
                autoscaling_config=tier.autoscaling_config.to_serve(),
                ray_actor_options=tier.ray_actor_options(config.replica_env),
                health_check_timeout_s=60,
                logging_config=_LOGGING,
            )(TierServer)
            .bind(tier.model_dump())
        )
    router = config.router
    app = (
        serve.deployment(
            name=ROUTER_DEPLOYMENT,
            max_ongoing_requests=router.max_ongoing_requests,
            max_queued_requests=router.max_queued_requests,
            autoscaling_config=router.autoscaling_config.to_serve(),
            ray_actor_options=router.resources.to_ray(config.replica_env),
            logging_config=_LOGGING,
        )(AIRouter)
        .bind(config.model_dump(), tiers)
    )
    if config.bridge.enabled:
        app = (
            serve.deployment(
                name=BRIDGE_DEPLOYMENT,
                num_replicas=config.bridge.num_replicas,
                max_ongoing_requests=16,
                ray_actor_options=config.bridge.resources.to_ray(config.replica_env),
                logging_config=_LOGGING,
            )(BusBridge)
            .bind(config.bridge.model_dump(), app)
        )
    return app
