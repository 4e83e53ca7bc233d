"""Ray Serve deployments: one per tier, and the router (with the bus bridge in it) in front of them.

``build_app`` is the application builder named by ``deploy/ray-cluster/serve.yaml``
(``import_path: loreweave.serve.deployments:build_app``); ``serve deploy`` and
``loreweave serve run`` both go through it. A request takes two hops: NATS to a router
replica (which answers ``lw.ai.generate`` itself) and one Serve call to a tier, shared by
the requests that reach the router together (:mod:`loreweave.serve.batching`). Where each
tier is a service of its own (``deploy/ecs``), ``build_tier_app`` puts some tiers on the bus
and ``build_router_app`` runs the router, reaching the tiers over NATS
(:mod:`loreweave.serve.tier_bus`).
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Mapping, Sequence, cast

from ray import serve
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from loreweave.actors.runtime import Bus
from loreweave.serve.batching import CallBatcher
from loreweave.serve.engines import Completion, Delta
from loreweave.serve.bridge import Bridge, connect_bus
from loreweave.serve.messages import CallContext, GenerateChunk, GenerateRequest, GenerateResult, TierCall
from loreweave.serve.router import Router, Saturated, TierClient
from loreweave.serve.shared_limits import SharedQuotas
from loreweave.serve.tier_server import TierServer
from loreweave.serve.tiers import BridgeConfig, ServeConfig, TierConfig, check_tier_names, parse_serve_config

#: Serve's per-request access log costs more CPU than a scripted answer; errors are still logged.
_LOGGING = {"enable_access_log": False}
ROUTER_DEPLOYMENT = "router"
TIER_BUS_DEPLOYMENT = "tier-bus"


class ServeTierClient:
    """Reaches a tier through its Serve handle; cancelling the caller cancels the replica's work."""

    def __init__(self, handle: DeploymentHandle, batch_calls: int = 1) -> None:
        self.handle = handle
        self.stream_handle = handle.options(stream=True)
        self.batcher: CallBatcher[TierCall, Completion] = CallBatcher(self._one, self._many, batch_calls)

    async def generate(self, call: TierCall) -> Completion:
        """Ask the tier for the whole answer (in one Serve call with the calls made at the same time)."""
        return await self.batcher.call(call)

    async def _many(self, calls: list[TierCall]) -> list[Completion | Exception]:
        response = self.handle.generate_batch.remote(calls)
        try:
            outcomes: list[Completion | Exception] = await response
            return outcomes
        except asyncio.CancelledError:
            response.cancel()
            raise
        except BackPressureError as exc:
            raise Saturated(str(exc)) from None

    async def _one(self, call: TierCall) -> Completion:
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


class AIRouter:
    """The router deployment: :class:`~loreweave.serve.router.Router` over the tiers' handles.

    With ``bridge.enabled`` it answers ``lw.ai.generate`` and ``lw.ai.stream`` itself (one
    NATS connection per replica, shared with ``router.shared_caps``): no hop between a
    bridge and the router.
    """

    async def __init__(  # type: ignore[misc]  # Serve awaits it
        self, config: Mapping[str, Any], tiers: Mapping[str, DeploymentHandle]
    ) -> None:
        serve_config = parse_serve_config(config)
        self.bus: Bus | None = None
        self.bridge: Bridge | None = None
        clients = {
            name: ServeTierClient(handle, serve_config.tiers[name].batch_calls) for name, handle in tiers.items()
        }
        await self._route(serve_config, clients)

    async def _route(self, config: ServeConfig, clients: Mapping[str, TierClient]) -> None:
        """Build the router over ``clients``, with the caps store the config asks for, and its bridge."""
        if self.bus is None and (config.router.shared_caps or config.bridge.enabled):
            self.bus = await connect_bus(config.bridge, "loreweave-ai-router")
        quotas = await SharedQuotas.open(self.bus.js) if config.router.shared_caps and self.bus else None
        self.clients = dict(clients)
        self.router = Router(config.router, config.tiers, clients, quotas=quotas)
        if config.bridge.enabled and self.bus is not None:
            self.bridge = Bridge(self.bus, self.router, config.bridge)
            await self.bridge.start()

    async def check_health(self) -> None:
        """Unhealthy while the NATS connection is down (Serve restarts the replica)."""
        if self.bus is not None and not self.bus.nc.is_connected:
            raise RuntimeError("router: not connected to NATS")

    async def generate(self, request: GenerateRequest, ctx: CallContext) -> GenerateResult:
        """Route one request (see :meth:`Router.generate`)."""
        return await self.router.generate(request, ctx)

    async def stream(self, request: GenerateRequest, ctx: CallContext) -> AsyncIterator[GenerateChunk | GenerateResult]:
        """Route one request and stream it (see :meth:`Router.stream`)."""
        async for item in self.router.stream(request, ctx):
            yield item

    def stats(self) -> dict[str, Any]:
        """The router's counters, the bridge's (``bridge``) and how tier calls were batched (``batches``)."""
        stats = self.router.stats()
        if self.bridge is not None:
            stats["bridge"] = self.bridge.stats()
        stats["batches"] = {
            name: client.batcher.stats() for name, client in self.clients.items() if isinstance(client, ServeTierClient)
        }
        return stats

    async def __del__(self) -> None:  # pragma: no cover - called by Serve on shutdown
        if self.bridge is not None:
            await self.bridge.close()
        if self.bus is not None:
            await self.bus.close()


class BusAIRouter(AIRouter):
    """The router deployment when tiers are services of their own: it reaches them over NATS."""

    async def __init__(self, config: Mapping[str, Any]) -> None:  # type: ignore[misc]  # Serve awaits it
        from loreweave.serve.tier_bus import BusTierClient

        serve_config = parse_serve_config(config)
        self.bus = await connect_bus(serve_config.bridge, "loreweave-ai-router")
        self.bridge = None
        await self._route(serve_config, {name: BusTierClient(self.bus, name) for name in serve_config.tiers})


class TierBus:
    """Puts tiers on the bus: answers ``lw.ai.tier.<name>.*`` through each tier's Serve handle."""

    async def __init__(  # type: ignore[misc]  # Serve awaits it
        self, bridge: Mapping[str, Any], tiers: Mapping[str, DeploymentHandle], capacity: Mapping[str, int]
    ) -> None:
        from loreweave.serve.tier_bus import TierEndpoint

        self.bus = await connect_bus(BridgeConfig.model_validate(bridge), "loreweave-ai-tiers")
        self.endpoints = [
            TierEndpoint(self.bus, name, ServeTierClient(handle), max_in_flight=capacity[name])
            for name, handle in tiers.items()
        ]
        for endpoint in self.endpoints:
            await endpoint.start()

    async def check_health(self) -> None:
        """Unhealthy while the NATS connection is down (Serve restarts the replica)."""
        if not self.bus.nc.is_connected:
            raise RuntimeError("tier bus: not connected to NATS")

    def stats(self) -> dict[str, Any]:
        """Each endpoint's counters."""
        return {endpoint.name: endpoint.stats() for endpoint in self.endpoints}

    async def __del__(self) -> None:  # pragma: no cover - called by Serve on shutdown
        for endpoint in self.endpoints:
            await endpoint.close()
        await self.bus.close()


def _tier_deployment(tier: TierConfig, config: ServeConfig) -> serve.Application:
    return (
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


def _router_deployment(config: ServeConfig, router_class: type, *args: Any) -> serve.Application:
    router = config.router
    return (
        serve.deployment(
            name=ROUTER_DEPLOYMENT,
            max_ongoing_requests=router.max_ongoing_requests,
            max_queued_requests=router.max_queued_requests,
            autoscaling_config=router.autoscaling_config.to_serve(),
            ray_actor_options=router.resources.to_ray(config.replica_env),
            logging_config=_LOGGING,
        )(router_class)
        .bind(config.model_dump(), *args)
    )


def _parsed(args: Mapping[str, Any] | ServeConfig) -> ServeConfig:
    return args if isinstance(args, ServeConfig) else parse_serve_config(args)


def build_app(args: Mapping[str, Any] | ServeConfig) -> serve.Application:
    """Build the Serve application: tiers → router (answering on NATS when the bridge is enabled).

    Raises:
        ConfigError: naming the first refused field of ``args``.
    """
    config = _parsed(args)
    tiers = {name: _tier_deployment(tier, config) for name, tier in config.tiers.items()}
    return _router_deployment(config, AIRouter, tiers)


def build_router_app(args: Mapping[str, Any] | ServeConfig) -> serve.Application:
    """The router (reaching every tier over NATS, answering on NATS): ``loreweave serve run --router``.

    Raises:
        ConfigError: naming the first refused field of ``args``.
    """
    config = _parsed(args)
    return _router_deployment(config, BusAIRouter)


def build_tier_app(args: Mapping[str, Any] | ServeConfig, names: Sequence[str]) -> serve.Application:
    """Some tiers and the endpoint that answers for them on the bus: ``loreweave serve run --tier NAME``.

    The endpoint takes as many calls per tier as its replicas can run and queue; beyond that
    it answers ``overloaded`` and the router falls back.

    Raises:
        ConfigError: naming ``tier`` when a name is not a tier of the config (or none is given).
    """
    config = _parsed(args)
    chosen = {name: config.tiers[name] for name in check_tier_names(config, names)}
    capacity = {name: tier.capacity for name, tier in chosen.items()}
    return (
        serve.deployment(
            name=TIER_BUS_DEPLOYMENT,
            num_replicas=config.bridge.num_replicas,
            max_ongoing_requests=16,
            ray_actor_options=config.bridge.resources.to_ray(config.replica_env),
            logging_config=_LOGGING,
        )(TierBus)
        .bind(config.bridge.model_dump(), {name: _tier_deployment(t, config) for name, t in chosen.items()}, capacity)
    )
