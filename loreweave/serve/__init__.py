"""The AI serving layer: model tiers on Ray Serve, the AI router, and the NATS bus bridge.

Actors use :class:`AIClient`; operators write ``deploy/ray-cluster/serve.yaml``.
Ray is imported only by :mod:`loreweave.serve.deployments` (the ``build_*app`` builders), so an
actor process that only asks for lines does not need it.
"""

from typing import Any

from loreweave.serve.bridge import Bridge, failure_reply
from loreweave.serve.client import AIClient, AnswerStream
from loreweave.serve.errors import (
    AIError,
    BadRequest,
    DeadlineExceeded,
    InvalidOutput,
    Overloaded,
    QuotaExceeded,
    RateLimited,
    TierFailed,
    Unavailable,
)
from loreweave.serve.limits import Quotas, QuotaStore
from loreweave.serve.messages import CallContext, GenerateChunk, GenerateRequest, GenerateResult, TierCall
from loreweave.serve.router import Router, TierClient
from loreweave.serve.shared_limits import SharedQuotas
from loreweave.serve.tier_bus import BusTierClient, TierEndpoint, TierSubjects
from loreweave.serve.tiers import (
    AutoscalingConfig,
    BridgeConfig,
    Resources,
    RouterConfig,
    Sampling,
    ServeConfig,
    TierConfig,
    WorldSettings,
    load_serve_config,
    local_profile,
    parse_serve_config,
)

__all__ = [
    "AIClient", "AIError", "AnswerStream", "AutoscalingConfig", "BadRequest", "Bridge", "BridgeConfig",
    "BusTierClient", "CallContext", "DeadlineExceeded", "GenerateChunk", "GenerateRequest", "GenerateResult", "InvalidOutput",
    "Overloaded", "QuotaExceeded", "QuotaStore", "Quotas", "RateLimited", "Resources", "Router", "RouterConfig",
    "Sampling", "ServeConfig", "SharedQuotas", "TierCall", "TierClient", "TierConfig", "TierEndpoint", "TierFailed",
    "TierSubjects", "Unavailable", "WorldSettings", "build_app", "build_router_app", "build_tier_app", "failure_reply", "load_serve_config", "local_profile", "parse_serve_config",
]


def __getattr__(name: str) -> Any:
    if name in ("build_app", "build_router_app", "build_tier_app"):  # imports Ray
        from loreweave.serve import deployments

        return getattr(deployments, name)
    raise AttributeError(name)
