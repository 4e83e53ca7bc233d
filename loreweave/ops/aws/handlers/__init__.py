"""One handler per kind of AWS resource the stack provisions."""

from __future__ import annotations

from loreweave.ops.aws.handlers.compute import AutoScalingGroupHandler, LaunchTemplateHandler
from loreweave.ops.aws.handlers.ecs import (
    CapacityProviderHandler,
    ClusterHandler,
    ClusterProvidersHandler,
    ServiceHandler,
    TaskDefinitionHandler,
)
from loreweave.ops.aws.handlers.iam import RoleHandler
from loreweave.ops.aws.handlers.monitoring import AlarmHandler, DashboardHandler, LogGroupHandler
from loreweave.ops.aws.handlers.network import SecurityGroupHandler
from loreweave.ops.aws.handlers.secrets import SecretHandler
from loreweave.ops.aws.handlers.notify import TopicHandler
from loreweave.ops.aws.handlers.scaling import ScalableTargetHandler, ScalingPolicyHandler
from loreweave.ops.aws.resources import Handler

#: Handlers by kind.
HANDLERS: dict[str, Handler] = {
    handler.kind: handler
    for handler in (
        SecurityGroupHandler(), SecretHandler(), TopicHandler(), RoleHandler(), LogGroupHandler(), ClusterHandler(), LaunchTemplateHandler(),
        AutoScalingGroupHandler(), CapacityProviderHandler(), ClusterProvidersHandler(),
        TaskDefinitionHandler(), ServiceHandler(), ScalableTargetHandler(), ScalingPolicyHandler(),
        AlarmHandler(), DashboardHandler(),
    )
}

__all__ = ["HANDLERS"]
