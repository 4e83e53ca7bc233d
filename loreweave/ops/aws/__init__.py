"""AWS provisioning of a Loreweave stack on ECS: spec, plan/apply/destroy, the inventory, the NATS credentials."""

from loreweave.ops.aws.credentials import (
    nats_authorization,
    rotate_nats_credential,
    stack_credentials,
    write_nats_authorization,
)
from loreweave.ops.aws.engine import Change, Plan, apply, destroy, plan
from loreweave.ops.aws.resources import Clients, ProvisionError, Resource
from loreweave.ops.aws.stack import STACK_TAG, StackSpec, load_stack, parse_stack

__all__ = [
    "Change", "Clients", "Plan", "ProvisionError", "Resource", "STACK_TAG", "StackSpec",
    "apply", "destroy", "load_stack", "nats_authorization", "parse_stack", "plan", "rotate_nats_credential",
    "stack_credentials", "write_nats_authorization",
]
