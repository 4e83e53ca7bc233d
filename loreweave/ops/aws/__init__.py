"""AWS provisioning of a Loreweave stack on ECS: spec, plan/apply/destroy and the inventory."""

from loreweave.ops.aws.engine import Change, Plan, apply, destroy, plan
from loreweave.ops.aws.resources import Clients, ProvisionError, Resource
from loreweave.ops.aws.stack import STACK_TAG, StackSpec, load_stack, parse_stack

__all__ = [
    "Change", "Clients", "Plan", "ProvisionError", "Resource", "STACK_TAG", "StackSpec",
    "apply", "destroy", "load_stack", "parse_stack", "plan",
]
