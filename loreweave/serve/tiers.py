"""Tier, router and bridge configuration: what ``deploy/ray-cluster/serve.yaml`` holds.

A tier is configuration, not code. :func:`parse_serve_config` validates a mapping
(the ``args`` of the Serve application) and refuses a bad value with one line naming
the field, e.g. ``tiers.gold.autoscaling_config.max_replicas: must be >= min_replicas (1), got 0``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from loreweave.config import read_yaml
from loreweave.protocol.errors import ConfigError
from loreweave.schemas.ai import RequestClass
from loreweave.schemas.qos import QosLevel as Qos

#: The qos levels from best to cheapest; a request may lower its world's level, never raise it.
QOS_ORDER: tuple[Qos, ...] = ("full", "reduced", "scripted")
#: Tiers tried per request class unless the router's configuration says otherwise.
DEFAULT_ROUTES: dict[RequestClass, list[str]] = {
    "dialogue": ["gold", "bronze"],
    "narrative": ["silver", "bronze"],
    "background": ["bronze"],
}
#: The import path of the Serve application builder (``applications[].import_path``).
APP_IMPORT_PATH = "loreweave.serve.deployments:build_app"
_ENGINE_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoscalingConfig(_Strict):
    """Ray Serve autoscaling of a deployment's replicas."""

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1)
    initial_replicas: int | None = Field(default=None, ge=0)
    target_ongoing_requests: float = Field(default=16, gt=0)
    upscale_delay_s: float = Field(default=5.0, ge=0)
    downscale_delay_s: float = Field(default=60.0, ge=0)

    @field_validator("max_replicas")
    @classmethod
    def _max_at_least_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_replicas")
        if minimum is not None and value < max(minimum, 1):
            bound = f"min_replicas ({minimum})" if minimum >= 1 else "1"
            raise _refused(f"must be >= {bound}, got {value}")
        return value

    @field_validator("initial_replicas")
    @classmethod
    def _initial_in_range(cls, value: int | None, info: ValidationInfo) -> int | None:
        low, high = info.data.get("min_replicas"), info.data.get("max_replicas")
        if value is not None and low is not None and high is not None and not low <= value <= high:
            raise _refused(f"must be within [{low}, {high}], got {value}")
        return value

    def to_serve(self) -> dict[str, Any]:
        """The dict Ray Serve's ``autoscaling_config`` option takes."""
        return self.model_dump(exclude_none=True)


class Resources(_Strict):
    """What one replica reserves on the Ray cluster."""

    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory_bytes: int | None = Field(default=None, gt=0)

    def to_ray(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The ``ray_actor_options`` of a replica with these resources (and environment)."""
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory_bytes is not None:
            options["memory"] = self.memory_bytes
        if env:
            options["runtime_env"] = {"env_vars": dict(env)}
        return options


class Sampling(_Strict):
    """Sampling defaults of a tier; a request may override ``max_tokens`` and ``temperature``."""

    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=64, ge=1, le=8192)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None


class TierConfig(_Strict):
    """One model tier: a Ray Serve deployment running one engine."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    engine: str = Field(
        default="scripted",
        description="'vllm', 'scripted', or the import path 'package.module:Class' of an Engine.",
    )
    model: str | None = Field(default=None, description="Model path (a local directory in production).")
    engine_args: dict[str, Any] = Field(
        default_factory=dict, description="Extra engine arguments (vLLM AsyncEngineArgs fields)."
    )
    sampling: Sampling = Field(default_factory=Sampling)
    latency_budget_ms: float = Field(default=2000, gt=0, description="Whole answer, else fall back.")
    first_token_ms: float | None = Field(
        default=None, gt=0, description="First streamed token, else fall back (default: the latency budget)."
    )
    autoscaling_config: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    max_ongoing_requests: int = Field(default=64, ge=1, description="Concurrent requests per replica.")
    max_queued_requests: int = Field(
        default=64, ge=-1, description="Requests a caller may queue before the tier counts as saturated."
    )
    resources: Resources = Field(default_factory=Resources)
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables of the replica (VLLM_CPU_KVCACHE_SPACE...)."
    )
    batch_calls: int = Field(
        default=32, ge=1,
        description="Calls a router replica sends this tier in one Serve call when they reach it together"
        " (each is stopped at its deadline); 1 sends every call alone.",
    )

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value not in ("vllm", "scripted") and not _ENGINE_PATH.match(value):
            raise _refused(f"must be 'vllm', 'scripted' or an import path 'package.module:Class', got {value!r}")
        return value

    @model_validator(mode="after")
    def _model_for_vllm(self) -> TierConfig:
        if self.engine == "vllm" and not self.model:
            raise _named("model", "is required when engine is 'vllm'")
        if self.first_token_ms is not None and self.first_token_ms > self.latency_budget_ms:
            raise _named(
                "first_token_ms",
                f"must be <= latency_budget_ms ({self.latency_budget_ms:g}), got {self.first_token_ms:g}",
            )
        return self

    @property
    def first_token_budget_ms(self) -> float:
        """How long the first streamed token may take before the router falls back."""
        return self.first_token_ms if self.first_token_ms is not None else self.latency_budget_ms

    @property
    def capacity(self) -> int:
        """Requests the tier takes at once at full scale: running on every replica, plus queued."""
        return self.max_ongoing_requests * self.autoscaling_config.max_replicas + max(self.max_queued_requests, 0)

    @property
    def deployment_name(self) -> str:
        """The Ray Serve deployment name of this tier."""
        return f"tier-{self.name}"

    def ray_actor_options(self, replica_env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The replica's ``ray_actor_options``: its resources and environment."""
        return self.resources.to_ray({**(replica_env or {}), **self.env})


class WorldSettings(_Strict):
    """What a world may use: its qos level and its caps (``None``: no cap)."""

    qos: Qos = "full"
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)
    player_requests_per_minute: int | None = Field(default=None, ge=1)
    player_tokens_per_day: int | None = Field(default=None, ge=1)
    routes: dict[RequestClass, list[str]] = Field(
        default_factory=dict, description="Routes of this world that replace the router's, per class."
    )


class RouterConfig(_Strict):
    """The AI router: routes per request class, load shedding and per-world settings."""

    routes: dict[RequestClass, list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTES),
        description="Tiers tried in order per request class; the scripted engine always comes last.",
    )
    max_in_flight: int = Field(default=512, ge=1, description="Requests held at once, else 'overloaded'.")
    shared_caps: bool = Field(
        default=False,
        description="Count the worlds' caps in a NATS key-value bucket every router replica shares "
                    "(the bridge's NATS server); off: each replica counts its own.",
    )
    failure_threshold: int = Field(default=3, ge=1, description="Failures in a row that open a tier's circuit.")
    cooldown_s: float = Field(default=5.0, gt=0, description="How long an open circuit skips the tier.")
    worlds: dict[str, WorldSettings] = Field(
        default_factory=lambda: {"default": WorldSettings()},
        description="Settings per world id; 'default' applies to the others.",
    )
    max_ongoing_requests: int = Field(default=1024, ge=1)
    max_queued_requests: int = Field(default=1024, ge=-1)
    autoscaling_config: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    resources: Resources = Field(default_factory=lambda: Resources(num_cpus=0.5))

    @field_validator("routes")
    @classmethod
    def _every_class_routed(cls, routes: dict[str, list[str]]) -> dict[str, list[str]]:
        for request_class in ("dialogue", "narrative", "background"):
            if request_class not in routes:
                raise _named(request_class, "is missing: every request class needs a route")
        return routes

    def world(self, world: str) -> WorldSettings:
        """The settings of ``world`` (the ``default`` entry if it has none)."""
        return self.worlds.get(world) or self.worlds.get("default") or WorldSettings()


class BridgeConfig(_Strict):
    """The NATS bus bridge (``lw.ai.generate`` → router), run inside every router replica.

    ``num_replicas`` and ``resources`` size the tier-bus endpoint of ``loreweave serve run
    --tier`` (the bridge has no deployment of its own: it is the router's front door).
    """

    enabled: bool = True
    nats_url: str | None = Field(default=None, description="Default: LOREWEAVE_NATS_URL.")
    subject: str = "lw.ai.generate"
    stream_subject: str = "lw.ai.stream"
    queue: str = "lw-ai-bridge"
    num_replicas: int = Field(default=1, ge=1, description="Replicas of the tier-bus endpoint (serve run --tier).")
    max_in_flight: int = Field(default=1024, ge=1, description="Requests one bridge holds before 'overloaded'.")
    default_timeout_ms: float = Field(default=5000, gt=0, description="Deadline of a request that sets none.")
    resources: Resources = Field(default_factory=lambda: Resources(num_cpus=0.25))


class ServeConfig(_Strict):
    """Everything the AI serving layer runs: the tiers, the router and the bus bridge."""

    app_name: str = Field(default="loreweave-ai", pattern=r"^[A-Za-z0-9_-]+$")
    tiers: dict[str, TierConfig]
    router: RouterConfig = Field(default_factory=RouterConfig)
    bridge: BridgeConfig = Field(default_factory=BridgeConfig)
    replica_env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment of every replica (Ray Serve tunables, tracing); a tier's `env` adds to it.",
    )

    @model_validator(mode="before")
    @classmethod
    def _name_tiers(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("tiers"), Mapping):
            tiers = {
                key: ({"name": key, **value} if isinstance(value, Mapping) else value)
                for key, value in data["tiers"].items()
            }
            data = {**data, "tiers": tiers}
        return data

    @model_validator(mode="after")
    def _routes_name_tiers(self) -> ServeConfig:
        if not self.tiers:
            raise _named("tiers", "at least one tier is required")
        for key, tier in self.tiers.items():
            if tier.name != key:
                raise _named(f"tiers.{key}.name", f"must equal its key {key!r}, got {tier.name!r}")
        routes = [("router.routes", self.router.routes)] + [
            (f"router.worlds.{world}.routes", settings.routes) for world, settings in self.router.worlds.items()
        ]
        for where, table in routes:
            for request_class, route in table.items():
                for index, name in enumerate(route):
                    if name not in self.tiers:
                        raise _named(
                            f"{where}.{request_class}[{index}]",
                            f"unknown tier {name!r} (tiers: {', '.join(self.tiers)})",
                        )
        return self


def check_tier_names(config: ServeConfig, names: Sequence[str]) -> list[str]:
    """``names`` without repeats, each a tier of ``config``.

    Raises:
        ConfigError: naming ``tier`` when none is given or one is unknown.
    """
    if not names:
        raise ConfigError("tier", "name at least one tier to serve")
    unknown = [name for name in names if name not in config.tiers]
    if unknown:
        raise ConfigError("tier", f"unknown tier {unknown[0]!r} (the config has: {', '.join(config.tiers)})")
    return list(dict.fromkeys(names))


def parse_serve_config(data: Mapping[str, Any]) -> ServeConfig:
    """Validate the serving configuration.

    Raises:
        ConfigError: naming the first bad field (``tiers.gold.max_ongoing_requests``) and why.
    """
    try:
        return ServeConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc) from None


def _refused(reason: str) -> PydanticCustomError:
    """An error of a field check whose message is final."""
    return PydanticCustomError("refused", "{reason}", {"reason": reason})


def _named(field: str, reason: str) -> PydanticCustomError:
    """An error of a cross-field check, naming its field relative to the model checked."""
    return PydanticCustomError("named", "{reason}", {"field": field, "reason": reason})


_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _config_error(exc: ValidationError) -> ConfigError:
    error = exc.errors(include_url=False)[0]
    parts = [str(part) for part in error["loc"]]
    context = error.get("ctx") or {}
    message = str(error["msg"])
    if error["type"] == "named":
        parts.append(str(context["field"]))
    elif error["type"] == "extra_forbidden":
        message = "is not a known field"
    elif error["type"] in _BOUNDS:
        operator, key = _BOUNDS[error["type"]]
        message = f"must be {operator} {context[key]}, got {error.get('input')!r}"
    elif error["type"] != "refused":
        message = f"{message}, got {error.get('input')!r}"
    return ConfigError(".".join(parts) or "config", message)


def find_app_args(document: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """Find the Loreweave application in a Serve config file; return its name and ``args``.

    Raises:
        ConfigError: if no application's ``import_path`` is :data:`APP_IMPORT_PATH`.
    """
    applications = document.get("applications")
    if not isinstance(applications, list) or not applications:
        raise ConfigError("applications", "must be a non-empty list of Serve applications")
    for index, app in enumerate(applications):
        if isinstance(app, Mapping) and app.get("import_path") == APP_IMPORT_PATH:
            args = app.get("args", {})
            if not isinstance(args, Mapping):
                raise ConfigError(f"applications[{index}].args", "must be a mapping")
            return str(app.get("name", "default")), args
    raise ConfigError("applications", f"no application with import_path {APP_IMPORT_PATH!r}")


def load_serve_config(path: Path) -> ServeConfig:
    """Read a Ray Serve config file (``serve.yaml``) and validate Loreweave's application in it.

    Raises:
        ConfigError: for an unreadable file, bad YAML, or a refused value (field named).
    """
    document = read_yaml(path)
    if not isinstance(document, Mapping):
        raise ConfigError(str(path), "must be a mapping with 'applications'")
    name, args = find_app_args(document)
    config = parse_serve_config(args)
    if "app_name" not in args:
        config = config.model_copy(update={"app_name": name})
    return config


def local_profile(config: ServeConfig) -> ServeConfig:
    """The same configuration for a laptop: every tier scripted, no GPUs, one replica each."""
    single = AutoscalingConfig(min_replicas=1, max_replicas=1, initial_replicas=None)
    tiers = {
        name: tier.model_copy(
            update={
                "engine": "scripted",
                "model": None,
                "engine_args": {},
                "resources": Resources(num_cpus=min(tier.resources.num_cpus, 0.25), num_gpus=0),
                "autoscaling_config": single,
            }
        )
        for name, tier in config.tiers.items()
    }
    router = config.router.model_copy(
        update={"autoscaling_config": single, "resources": Resources(num_cpus=0.25)}
    )
    bridge = config.bridge.model_copy(update={"resources": Resources(num_cpus=0.25), "num_replicas": 1})
    return config.model_copy(update={"tiers": tiers, "router": router, "bridge": bridge})
