"""The fair-share rule: how many partitions a node should hold, and which to take or give up.

With ``M`` live nodes and ``P`` partitions, the nodes sorted by id get
``ceil(P / M)`` for the first ``P mod M`` of them and ``floor(P / M)`` for the rest, so the
shares sum to exactly ``P`` and every node computes the same shares from the same member
set (3 nodes on 64 partitions: 22, 21, 21). A node under its share acquires free partitions;
a node over it releases its surplus (after draining it). Nothing else moves, so once every
node sees the same members the placement is still: it does not flap.

Which free partition to take, and which to give up, is ranked by rendezvous hashing of
``(node, partition)``: deterministic, and different for each node, so nodes racing for free
partitions mostly try different ones, and a partition tends to return to the same node.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from loreweave.protocol.errors import ConfigError


def fair_shares(members: Iterable[str], partitions: int) -> dict[str, int]:
    """Each member's share of ``partitions``: ceil for the first ``P mod M`` ids in sorted order, floor after.

    Raises:
        ConfigError: there are no members.
    """
    ordered = sorted(set(members))
    if not ordered:
        raise ConfigError("placement.members", "no live node to share partitions between")
    base, extra = divmod(partitions, len(ordered))
    return {node: base + (1 if rank < extra else 0) for rank, node in enumerate(ordered)}


def preference(node: str, partition: int) -> int:
    """How much ``node`` wants ``partition`` (rendezvous hash; higher first)."""
    return zlib.crc32(f"{node}/{partition}".encode())


@dataclass(frozen=True, slots=True)
class Plan:
    """One balancing step of one node.

    Attributes:
        target: the node's fair share.
        acquire: free partitions to try to acquire, most wanted first.
        release: held partitions to drain and release, least wanted first.
    """

    target: int
    acquire: tuple[int, ...] = ()
    release: tuple[int, ...] = ()


def plan(
    node: str,
    members: Collection[str],
    partitions: int,
    held: Collection[int],
    owners: Mapping[int, str],
) -> Plan:
    """What ``node`` should do now.

    Args:
        node: this node's id (counted as a member even before the watcher shows it).
        members: live node ids.
        partitions: the partition count.
        held: partitions this node holds and is not already giving up.
        owners: partition → node id holding it, for every held partition (any node).
    """
    target = fair_shares({*members, node}, partitions)[node]
    if len(held) < target:
        free = [p for p in range(partitions) if p not in held and owners.get(p, node) == node]
        free.sort(key=lambda p: preference(node, p), reverse=True)
        return Plan(target, acquire=tuple(free[: target - len(held)]))
    if len(held) > target:
        surplus = sorted(held, key=lambda p: preference(node, p))
        return Plan(target, release=tuple(surplus[: len(held) - target]))
    return Plan(target)
