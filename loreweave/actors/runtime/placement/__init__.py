"""Placement: which node handles which worlds, with one owner per partition at any moment.

Worlds hash into a fixed number of partitions (:mod:`.partitions`); each partition is owned
by the node holding its lease in a NATS KV bucket (:mod:`.leases`), renewed before a
server-side TTL; live nodes heartbeat in another bucket (:mod:`.membership`); every node
aims at its fair share (:mod:`.balancer`); :class:`Placement` ties them together for one
node (:mod:`.coordinator`). The lease's acquisition revision is a fencing token that
:func:`loreweave.db.fencing.check_fence` checks inside every commit, so a node that lost a
lease without knowing it (paused, partitioned) cannot commit over its successor.
"""

from loreweave.actors.runtime.placement.balancer import Plan, assign, fair_shares, plan, preference
from loreweave.actors.runtime.placement.coordinator import Placement, PlacementSettings
from loreweave.actors.runtime.placement.leases import (
    DEFAULT_LEASE_BUCKET,
    DEFAULT_LEASE_TTL,
    Lease,
    Owner,
    PartitionLeases,
    lease_key,
)
from loreweave.actors.runtime.placement.membership import DEFAULT_NODE_BUCKET, Membership, new_node_id
from loreweave.actors.runtime.placement.partitions import (
    DEFAULT_PARTITIONS,
    partition_of,
    partition_of_subject,
    world_of_subject,
)

__all__ = [
    "DEFAULT_LEASE_BUCKET",
    "DEFAULT_LEASE_TTL",
    "DEFAULT_NODE_BUCKET",
    "DEFAULT_PARTITIONS",
    "Lease",
    "Membership",
    "Owner",
    "PartitionLeases",
    "Placement",
    "PlacementSettings",
    "Plan",
    "assign",
    "fair_shares",
    "lease_key",
    "new_node_id",
    "partition_of",
    "partition_of_subject",
    "plan",
    "preference",
    "world_of_subject",
]
