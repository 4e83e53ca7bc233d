"""Loreweave configuration: every setting comes from a ``LOREWEAVE_*`` environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from loreweave.protocol.codec import DEFAULT_MAX_FRAME_BYTES
from loreweave.protocol.errors import ConfigError

ENV_PREFIX = "LOREWEAVE_"


class Settings(BaseSettings):
    """Process-wide settings, read from the environment (prefix ``LOREWEAVE_``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    nats_url: str | None = Field(
        default=None, description="NATS server to use; unset starts an embedded nats-server."
    )
    nats_creds: Path | None = Field(
        default=None,
        description="Credential file a command connects with (`loreweave auth create` writes them); unset: the "
        "embedded server's credential for the command's role, or the user and password in LOREWEAVE_NATS_URL.",
    )
    nats_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate the embedded nats-server serves (with LOREWEAVE_NATS_TLS_KEY): every client "
        "must then speak TLS. Unset: no TLS.",
    )
    nats_tls_key: Path | None = Field(
        default=None, description="PEM private key of LOREWEAVE_NATS_TLS_CERT (keep it mode 0600; never printed)."
    )
    nats_tls_ca: Path | None = Field(
        default=None,
        description="PEM CA certificate every client trusts for the bus (the server's name is checked too); "
        "set: clients connect with TLS and refuse a server this CA did not sign.",
    )
    database_url: str | None = Field(
        default=None, description="PostgreSQL DSN; unset starts an embedded PostgreSQL (pgserver)."
    )
    database_pool_size: int = Field(
        default=10, ge=2, le=1000,
        description="Most PostgreSQL connections a process keeps open: each persistent actor holds one while "
        "its batches keep coming, requests and snapshots share the rest.",
    )
    data_dir: Path = Field(
        default=Path(".loreweave"), description="Directory for embedded servers' data."
    )
    max_frame_bytes: int = Field(
        default=DEFAULT_MAX_FRAME_BYTES, gt=0, le=64 * 1024 * 1024,
        description="Largest accepted frame; keep it under the NATS server's max_payload (1 MiB by default), "
        "so a larger frame still reaches the actors and is dead-lettered as too_large.",
    )
    nats_connect_wait_s: float = Field(
        default=5.0, ge=0, description="Seconds a command or node keeps trying to reach NATS before giving up."
    )
    drain_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a stopping node lets frames in hand finish before cancelling them."
    )
    payments_provider: Literal["none", "test", "stripe"] = Field(
        default="none",
        description="Who moves the money: 'stripe' (with LOREWEAVE_STRIPE_API_KEY), 'test' (no money moves; "
        "development only), or 'none': `loreweave run` refuses purchases (`up` and `simulate` use 'test').",
    )
    stripe_api_key: SecretStr | None = Field(default=None, description="Stripe secret key (never printed).")
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="Signing secret (whsec_...) of the Stripe webhook endpoint: deliveries whose "
        "Stripe-Signature does not verify with it are refused (never printed)."
    )
    exclusive_actors: bool = Field(
        default=True,
        description="Placement: one activation of each (actor, world) across the nodes of the bus (leases in NATS KV, fenced commits, "
        "failover); off: nodes hosting the same actor share its frames.",
    )
    actor_lease_ttl_s: int = Field(
        default=5, ge=1, le=300,
        description="Seconds an actor's lease outlives its node: a dead node's actors resume elsewhere after about this (5 s: failover within 10 s even with a renewal lost).",
    )
    partitions: int = Field(
        default=64, ge=1, le=4096,
        description="Partitions worlds hash into (FNV-1a of the world id, as NATS's partition() transform); nodes share the partitions. Every node "
        "of a cluster must use the same number.",
    )
    replicas: int = Field(
        default=1, ge=1, le=5,
        description="Copies of the streams and KV buckets (leases, nodes) in a clustered NATS: 3 for a 3-server "
        "cluster that survives losing one; 1 on a single server.",
    )
    dlq_max_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Bytes the LOREWEAVE_DLQ stream keeps; the oldest go first."
    )
    dlq_max_msg_bytes: int = Field(
        default=64 * 1024, ge=8 * 1024, le=1024 * 1024,
        description="Largest dead letter stored; a larger frame is kept truncated, with its size and SHA-256.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the loreweave loggers."
    )
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", description="Where spans and metrics go."
    )
    handler_attempts: int = Field(
        default=3, ge=1, le=100, description="Tries of a failing handler before dead-lettering."
    )
    mailbox_capacity: int = Field(
        default=1024, ge=1, description="Frames an actor handler may hold before backpressure."
    )


class _ExplicitSettings(Settings):
    """Settings from given values only, never from the process environment."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        return (init_settings,)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: ``os.environ``), refusing bad values by name.

    Raises:
        ConfigError: naming the variable and the reason.
    """
    try:
        if env is None:
            return Settings()
        values = {
            key[len(ENV_PREFIX):].lower(): value
            for key, value in env.items()
            if key.startswith(ENV_PREFIX)
        }
        return _ExplicitSettings(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ENV_PREFIX + str(error["loc"][0]).upper() if error["loc"] else ENV_PREFIX
        raise ConfigError(name, f"{error['msg']} (got {error.get('input')!r})") from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML configuration file.

    Raises:
        ConfigError: naming the file, when it cannot be read or is not valid YAML.
    """
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), f"is not valid YAML: {problem}{where}") from None


def validation_error(exc: ValidationError, root: str) -> ConfigError:
    """The first error of a pydantic validation as a :class:`ConfigError` naming the dotted field."""
    error = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in error["loc"]) or root
    reason = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        reason = "is not a known field"
    elif error["type"] not in ("value_error", "assertion_error"):
        reason = f"{reason}, got {error.get('input')!r}"
    return ConfigError(field, reason)
