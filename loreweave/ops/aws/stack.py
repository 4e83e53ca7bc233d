"""The ECS stack specification (``deploy/ecs/stack.yaml``): what ``ops apply`` provisions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loreweave.config import read_yaml, validation_error
from loreweave.ops.prices import instance_price
from loreweave.protocol.errors import ConfigError

#: Tag keys every provisioned resource carries.
STACK_TAG = "loreweave:stack"
COMPONENT_TAG = "loreweave:component"
TIER_TAG = "loreweave:tier"
MANAGED_TAG = "loreweave:managed-by"
#: CPU units and MiB the ECS agent and the OS keep for themselves on a container instance.
_AGENT_CPU_UNITS = 256
_AGENT_MEMORY_MIB = 2048


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Network(_Strict):
    """Where tasks and instances run."""

    subnets: list[str] = Field(default_factory=list, description="Empty: the default VPC's subnets.")
    security_groups: list[str] = Field(
        default_factory=list, description="Extra groups of tasks and instances, beside the stack's own <name>-tasks.")
    assign_public_ip: bool = False


class Alerts(_Strict):
    """Who hears the alarms."""

    emails: list[str] = Field(default_factory=list)


#: Variables that hold secrets: a task gets them from Secrets Manager (``secrets``), never ``environment``.
SECRET_VARIABLES = frozenset({
    "LOREWEAVE_NATS_URL", "LOREWEAVE_NATS_CREDS", "LOREWEAVE_DATABASE_URL", "LOREWEAVE_STRIPE_API_KEY",
    "LOREWEAVE_STRIPE_WEBHOOK_SECRET", "LOREWEAVE_NATS_TLS_KEY",
})
_SECRET_ARN = r"^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:\S+$"


def _plain_environment(environment: dict[str, str]) -> dict[str, str]:
    for name in environment:
        if name in SECRET_VARIABLES or any(word in name for word in ("PASSWORD", "SECRET", "API_KEY", "TOKEN")):
            raise ValueError(f"{name} is a secret: list it under secrets (a Secrets Manager ARN), not environment")
    return environment


def _secret_arns(secrets: dict[str, str]) -> dict[str, str]:
    for name, arn in secrets.items():
        if name in ("LOREWEAVE_NATS_URL", "LOREWEAVE_DATABASE_URL"):
            raise ValueError(f"{name} is the stack's own (backing): do not list it under secrets")
        if not re.match(_SECRET_ARN, arn):
            raise ValueError(f"{name}: {arn!r} is not a Secrets Manager secret or SSM parameter ARN")
    return secrets


#: Roles a task may connect to the bus as (never admin: that is for an operator at a console).
TaskRole = Literal["actor-node", "ai", "ops", "game-server", "designer"]


class Backing(_Strict):
    """The shared servers every task connects to; this stack does not provision them."""

    nats_url: str = Field(
        pattern=r"^(nats|tls)://[^\s@,]+(,(nats|tls)://[^\s@,]+)*$",
        description="The NATS (JetStream) server, or servers separated by commas, without credentials: each task gets this URL with its role's "
                    "user and password from a Secrets Manager secret of the stack, as LOREWEAVE_NATS_URL.",
    )
    database_url_secret: str = Field(
        pattern=_SECRET_ARN,
        description="ARN of the Secrets Manager secret (or SSM parameter) holding the PostgreSQL DSN, "
                    "given to the CPU services as LOREWEAVE_DATABASE_URL.",
    )
    database_port: int = Field(default=5432, ge=1, le=65535, description="PostgreSQL's TCP port.")

    @property
    def nats_port(self) -> int:
        """The TCP port of :attr:`nats_url`'s first server (4222 when it names none)."""
        return urlsplit(self.nats_url.split(",")[0]).port or 4222


class ServiceSpec(_Strict):
    """A CPU service on Fargate (the actor processes)."""

    image: str = Field(min_length=1)
    command: list[str] = Field(default_factory=list)
    cpu: int = Field(default=1024, description="Fargate CPU units: 256, 512, 1024, 2048, 4096...")
    memory: int = Field(default=2048, ge=512, description="MiB.")
    min_tasks: int = Field(default=1, ge=0)
    max_tasks: int = Field(default=4, ge=1)
    cpu_target_pct: float = Field(default=60, gt=0, le=100)
    environment: dict[str, str] = Field(default_factory=dict, description="Plain variables; no secrets.")
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Variable -> Secrets Manager (or SSM) ARN, e.g. LOREWEAVE_STRIPE_API_KEY: "
        "the task execution role may read exactly these.")
    nats_role: TaskRole = Field(default="actor-node", description="The bus role the tasks connect as.")

    _environment = field_validator("environment")(_plain_environment)
    _secrets = field_validator("secrets")(_secret_arns)

    @model_validator(mode="after")
    def _bounds(self) -> ServiceSpec:
        if self.cpu not in (256, 512, 1024, 2048, 4096, 8192, 16384):
            raise ValueError(f"cpu must be a Fargate size (256 ... 16384), got {self.cpu}")
        if self.max_tasks < self.min_tasks:
            raise ValueError(f"max_tasks ({self.max_tasks}) must be >= min_tasks ({self.min_tasks})")
        return self


class TierSpec(_Strict):
    """A GPU tier: its service, its Auto Scaling Group and its scaling targets."""

    image: str = Field(min_length=1)
    command: list[str] = Field(default_factory=list)
    instance_types: list[str] = Field(min_length=1, description="First is the primary; the rest widen spot capacity.")
    gpus_per_task: int = Field(default=1, ge=1)
    cpu: int = Field(ge=128, description="CPU units per task (1024 per vCPU).")
    memory: int = Field(ge=512, description="MiB per task.")
    on_demand_base: int = Field(default=0, ge=0, description="Instances always bought on demand.")
    spot_pct_above_base: int = Field(default=100, ge=0, le=100)
    min_tasks: int = Field(default=0, ge=0)
    max_tasks: int = Field(ge=1)
    gpu_utilization_target_pct: float = Field(default=70, gt=0, le=100)
    queue_depth_target: float = Field(default=16, gt=0, description="Queued + running requests per task.")
    latency_p95_alarm_ms: float = Field(default=5000, gt=0)
    environment: dict[str, str] = Field(default_factory=dict, description="Plain variables; no secrets.")
    nats_role: TaskRole = Field(default="ai", description="The bus role the tier's serve container connects as.")

    _environment = field_validator("environment")(_plain_environment)

    @model_validator(mode="after")
    def _fits(self) -> TierSpec:
        if self.max_tasks < self.min_tasks:
            raise ValueError(f"max_tasks ({self.max_tasks}) must be >= min_tasks ({self.min_tasks})")
        for index, instance_type in enumerate(self.instance_types):
            try:
                size = instance_price(instance_type)
            except ConfigError as exc:
                raise ValueError(f"instance_types[{index}]: {exc.reason}") from None
            free_cpu = size.vcpus * 1024 - _AGENT_CPU_UNITS
            free_memory = size.memory_gib * 1024 - _AGENT_MEMORY_MIB
            if size.gpus < self.gpus_per_task:
                raise ValueError(f"instance_types[{index}]: {instance_type} has {size.gpus} GPUs, "
                                 f"a task needs gpus_per_task={self.gpus_per_task}")
            if free_cpu < self.cpu:
                raise ValueError(f"instance_types[{index}]: {instance_type} leaves {free_cpu} CPU units "
                                 f"for tasks, a task needs cpu={self.cpu}")
            if free_memory < self.memory:
                raise ValueError(f"instance_types[{index}]: {instance_type} leaves {free_memory} MiB "
                                 f"for tasks, a task needs memory={self.memory}")
        return self

    def tasks_per_instance(self, instance_type: str | None = None) -> int:
        """Tasks one instance of ``instance_type`` (default: the primary) holds."""
        size = instance_price(instance_type or self.instance_types[0])
        return max(1, min(size.gpus // self.gpus_per_task,
                          (size.vcpus * 1024 - _AGENT_CPU_UNITS) // self.cpu,
                          (size.memory_gib * 1024 - _AGENT_MEMORY_MIB) // self.memory))

    @property
    def max_instances(self) -> int:
        """Instances the tier's ASG may grow to: its max tasks on the primary type."""
        per = self.tasks_per_instance()
        return -(-self.max_tasks // per)


class AlarmSpec(_Strict):
    """Thresholds of the stack's alarms (latency thresholds are per tier)."""

    error_rate_pct: float = Field(default=5, gt=0, le=100)
    gpu_exhaustion_pct: float = Field(default=95, gt=0, le=100)
    gpu_exhaustion_minutes: int = Field(default=15, ge=5)


class StackSpec(_Strict):
    """Everything ``ops apply`` provisions for one stack."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{2,30}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    tags: dict[str, str] = Field(default_factory=dict)
    network: Network = Field(default_factory=Network)
    backing: Backing
    alerts: Alerts = Field(default_factory=Alerts)
    metrics_namespace: str = Field(default="Loreweave", min_length=1)
    services: dict[str, ServiceSpec] = Field(default_factory=dict)
    tiers: dict[str, TierSpec] = Field(default_factory=dict)
    alarms: AlarmSpec = Field(default_factory=AlarmSpec)

    @model_validator(mode="after")
    def _names(self) -> StackSpec:
        for key in [*self.services, *self.tiers]:
            if not key.replace("-", "").isalnum() or not key[0].isalpha():
                raise ValueError(f"{key!r}: service and tier names are letters, digits and '-'")
        clash = set(self.services) & set(self.tiers)
        if clash:
            raise ValueError(f"{sorted(clash)[0]!r} is both a service and a tier")
        return self

    def tags_for(self, component: str, tier: str | None = None) -> dict[str, str]:
        """The tags of one resource: the stack's own, then the Loreweave keys."""
        tags = {**self.tags, STACK_TAG: self.name, COMPONENT_TAG: component, MANAGED_TAG: "loreweave-ops"}
        if tier:
            tags[TIER_TAG] = tier
        return tags


def parse_stack(data: Mapping[str, Any]) -> StackSpec:
    """Validate a stack mapping.

    Raises:
        ConfigError: naming the first bad field (``tiers.gold.max_tasks``) and why.
    """
    try:
        return StackSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "stack") from None


def load_stack(path: Path) -> StackSpec:
    """Read and validate a stack YAML file.

    Raises:
        ConfigError: for an unreadable file, bad YAML, or a refused value (field named).
    """
    data = read_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(str(path), "must be a mapping with 'name' and 'region'")
    return parse_stack(data)
