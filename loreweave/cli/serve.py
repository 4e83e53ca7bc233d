"""``loreweave serve run`` and ``loreweave serve check``: the AI tiers from ``serve.yaml``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import click

from loreweave.cli.connection import client_nats_url
from loreweave.security.credentials import redact_url
from loreweave.config import load_settings
from loreweave.embedded import nats_url as embedded_nats_url
from loreweave.protocol.errors import ConfigError, LoreweaveError
from loreweave.serve.tiers import ServeConfig, check_tier_names, load_serve_config, local_profile

logger = logging.getLogger("loreweave.serve")
DEFAULT_CONFIG = Path("deploy/ray-cluster/serve.yaml")


def describe_config(config: ServeConfig) -> list[str]:
    """One line per tier and one for the router: what ``serve check`` prints."""
    lines = []
    for tier in config.tiers.values():
        scaling = tier.autoscaling_config
        lines.append(
            f"{tier.name:<8} {tier.engine:<9} {tier.model or '-':<36} budget {tier.latency_budget_ms:g} ms"
            f" (first token {tier.first_token_budget_ms:g} ms)  replicas {scaling.min_replicas}-{scaling.max_replicas}"
            f"  {tier.max_ongoing_requests} ongoing  cpus {tier.resources.num_cpus:g} gpus {tier.resources.num_gpus:g}"
        )
    routes = ", ".join(f"{name}: {' > '.join([*route, 'scripted'])}" for name, route in config.router.routes.items())
    lines.append(f"router   {routes}; max_in_flight {config.router.max_in_flight}")
    bridge = config.bridge
    lines.append(f"bridge   {'on' if bridge.enabled else 'off'}: {bridge.subject}, {bridge.stream_subject}")
    return lines


@contextlib.asynccontextmanager
async def bus_url(explicit: str | None) -> AsyncIterator[str]:
    """The NATS URL for the bridge: --nats-url, LOREWEAVE_NATS_URL, a running `loreweave up`, else embedded."""
    settings = load_settings()
    if explicit:
        yield explicit
        return
    try:
        yield client_nats_url(settings, "ai")
        return
    except ConfigError:
        pass
    async with embedded_nats_url(None, settings.data_dir, role="ai") as url:
        yield url


def check_layout(config: ServeConfig, tiers: Sequence[str], router_only: bool) -> None:
    """Refuse a layout of ``serve run`` before Ray starts.

    Raises:
        ConfigError: naming ``tier`` for an unknown tier, or both layouts asked for at once.
    """
    if tiers and router_only:
        raise ConfigError("tier", "--tier and --router are separate services: give one of them")
    if tiers:
        check_tier_names(config, tiers)


def serve_app(config: ServeConfig, *, tiers: Sequence[str] = (), router_only: bool = False) -> tuple[str, Any, str]:
    """The application ``serve run`` deploys: its name, the Serve application, and what it answers.

    With ``tiers``, those tiers alone, answering the router over NATS; with ``router_only``,
    the router and the bridge, reaching the tiers over NATS; else everything in one application.

    Raises:
        ConfigError: naming ``tier`` for an unknown tier, or both layouts asked for at once.
    """
    from loreweave.serve.deployments import build_app, build_router_app, build_tier_app
    from loreweave.serve.tier_bus import TierSubjects

    check_layout(config, tiers, router_only)
    if tiers:
        app = build_tier_app(config, list(tiers))
        subjects = ", ".join(TierSubjects.of(name).generate.removesuffix(".generate") + ".*" for name in tiers)
        return f"{config.app_name}-{'-'.join(dict.fromkeys(tiers))}", app, f"tier calls on {subjects}"
    what = f"AI requests on {config.bridge.subject}"
    if router_only:
        return f"{config.app_name}-router", build_router_app(config), what + " (tiers over NATS)"
    return config.app_name, build_app(config), what


async def run_serve(
    config: ServeConfig, *, address: str | None = None, nats_url: str | None = None,
    stop: asyncio.Event | None = None, tiers: Sequence[str] = (), router_only: bool = False,
) -> None:
    """Start Ray (or join ``address``), deploy the application, and run until ``stop`` or a signal.

    ``tiers`` and ``router_only`` pick a part of the application (see :func:`serve_app`).
    """
    import ray
    from ray import serve

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with bus_url(nats_url or config.bridge.nats_url) as url:
        bridge = config.bridge.model_copy(update={"nats_url": url})
        config = config.model_copy(update={"bridge": bridge})
        app_name, app, answers = serve_app(config, tiers=tiers, router_only=router_only)
        started_ray = not ray.is_initialized()
        if started_ray:
            await asyncio.to_thread(ray.init, address=address, include_dashboard=False)
        try:
            await asyncio.to_thread(serve.start, proxy_location="Disabled", http_options={"host": "127.0.0.1"})
            await asyncio.to_thread(serve.run, app, name=app_name, route_prefix=None)
            click.echo(f"loreweave serve: {app_name} running; {answers} on {redact_url(url)}")
            await stop.wait()
        finally:
            await asyncio.to_thread(serve.delete, app_name)
            if started_ray:
                await asyncio.to_thread(serve.shutdown)
                await asyncio.to_thread(ray.shutdown)


@click.group("serve")
def serve_group() -> None:
    """The AI serving layer: model tiers and the AI router on Ray Serve."""


_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG,
    show_default=True, help="Ray Serve config file.",
)


@serve_group.command("check")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG)
def check_command(config_path: Path) -> None:
    """Validate a serve.yaml and print its tiers (exit 2 with the bad field named)."""
    try:
        config = load_serve_config(config_path)
    except LoreweaveError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    for line in describe_config(config):
        click.echo(line)


@serve_group.command("run")
@_config_option
@click.option("--scripted", is_flag=True, help="Every tier on the scripted engine: no model, no GPU.")
@click.option("--address", default=None, help="Ray cluster to join (default: start a local Ray).")
@click.option("--nats-url", default=None, help="NATS server of the bridge (default: LOREWEAVE_NATS_URL).")
@click.option("--tier", "tiers", multiple=True, metavar="NAME",
              help="Serve only this tier (repeatable), answering the router over NATS: one GPU service per tier.")
@click.option("--router", "router_only", is_flag=True,
              help="Serve only the router and the bridge, reaching the tiers' services over NATS.")
def run_command(
    config_path: Path, scripted: bool, address: str | None, nats_url: str | None, tiers: tuple[str, ...],
    router_only: bool,
) -> None:
    """Run the tiers, the router and the bus bridge from the same config as `serve deploy`.

    By default all of them in one application on one Ray cluster. Where each tier is a service
    of its own (deploy/ecs), each tier's tasks run `--tier NAME` and the router's run `--router`.
    """
    try:
        config = load_serve_config(config_path)
        if scripted:
            config = local_profile(config)
        check_layout(config, tiers, router_only)
    except LoreweaveError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    for line in describe_config(config):
        click.echo(line)
    asyncio.run(run_serve(config, address=address, nats_url=nats_url, tiers=tiers, router_only=router_only))
