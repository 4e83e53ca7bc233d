"""EC2 instance sizes and hourly prices, for cost estimates and fit checks.

The table is a snapshot of us-east-1 Linux prices. On-demand prices are the published
list prices; spot prices move every few minutes, so the spot column is a typical
recent price, not a quote. Override either per instance type in the capacity model
(``prices:``) when planning for another region or a newer snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

from loreweave.protocol.errors import ConfigError

Market = Literal["spot", "on-demand"]

#: When the table below was taken; printed next to every cost figure.
PRICES_AS_OF = "2025-06, us-east-1"
#: Hours in an average month (365 * 24 / 12), the unit AWS bills monthly estimates in.
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True, slots=True)
class InstancePrice:
    """Hourly price of one instance type, on demand and on the spot market."""

    instance_type: str
    on_demand: float
    spot: float
    gpus: int
    gpu: str
    vcpus: int = 0
    memory_gib: int = 0

    def hourly(self, market: Market) -> float:
        """Price per hour on ``market``."""
        return self.spot if market == "spot" else self.on_demand


_TABLE: dict[str, InstancePrice] = {
    price.instance_type: price
    for price in (
        # CPU: head node and actor hosts.
        InstancePrice("m7i.xlarge", 0.2016, 0.0850, 0, "", 4, 16),
        InstancePrice("m7i.2xlarge", 0.4032, 0.1700, 0, "", 8, 32),
        InstancePrice("c7i.2xlarge", 0.3570, 0.1450, 0, "", 8, 16),
        # NVIDIA L4 24 GB.
        InstancePrice("g6.xlarge", 0.8048, 0.3400, 1, "L4", 4, 16),
        InstancePrice("g6.2xlarge", 0.9776, 0.4100, 1, "L4", 8, 32),
        InstancePrice("g6.12xlarge", 4.6016, 1.9300, 4, "L4", 48, 192),
        # NVIDIA A10G 24 GB.
        InstancePrice("g5.xlarge", 1.0060, 0.4300, 1, "A10G", 4, 16),
        InstancePrice("g5.2xlarge", 1.2120, 0.5100, 1, "A10G", 8, 32),
        InstancePrice("g5.12xlarge", 5.6720, 2.3900, 4, "A10G", 48, 192),
        # NVIDIA L40S 48 GB.
        InstancePrice("g6e.xlarge", 1.8610, 0.7800, 1, "L40S", 4, 32),
        InstancePrice("g6e.2xlarge", 2.2421, 0.9400, 1, "L40S", 8, 64),
        InstancePrice("g6e.12xlarge", 10.4926, 4.4100, 4, "L40S", 48, 384),
        # NVIDIA A100 40 GB / H100 80 GB (8 GPUs each).
        InstancePrice("p4d.24xlarge", 21.9576, 9.2200, 8, "A100", 96, 1152),
        InstancePrice("p5.48xlarge", 55.0400, 23.1200, 8, "H100", 192, 2048),
    )
}

#: Fargate, per hour: one vCPU and one GiB of memory (Linux/x86).
FARGATE_VCPU_HOUR = 0.04048
FARGATE_GIB_HOUR = 0.004445
#: CloudWatch, per month: a standard-resolution alarm, a dashboard, a custom metric.
CLOUDWATCH_ALARM_MONTH = 0.10
CLOUDWATCH_DASHBOARD_MONTH = 3.00
CLOUDWATCH_METRIC_MONTH = 0.30
#: Secrets Manager, per month: one secret (API calls aside).
SECRETS_MANAGER_SECRET_MONTH = 0.40


def instance_price(
    instance_type: str, overrides: Mapping[str, InstancePrice] | None = None
) -> InstancePrice:
    """Return the price of ``instance_type``, from ``overrides`` first, then the table.

    Raises:
        ConfigError: if the instance type is in neither.
    """
    if overrides and instance_type in overrides:
        return overrides[instance_type]
    try:
        return _TABLE[instance_type]
    except KeyError:
        raise ConfigError(
            "instance_type",
            f"no price known for {instance_type!r}; add it under 'prices:' "
            f"(known: {', '.join(sorted(_TABLE))})",
        ) from None


def known_instance_types() -> list[str]:
    """Instance types the built-in table prices."""
    return sorted(_TABLE)
#: EBS gp3, per GiB-month (the GPU nodes' root volumes).
EBS_GP3_GIB_MONTH = 0.08
