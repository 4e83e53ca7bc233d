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

Partitions are not equally loaded: worlds hash into them unevenly (30 worlds on 64 partitions
leave most empty). When holders report a weight (their partition's worlds), every node computes
the same assignment (:func:`assign`): the partition counts above, and within them the weighted
partitions spread so that no node holds more than its share of the weight (rounded up), keeping
each partition where it is whenever that fits. A node then takes what is assigned to it when it
is free and hands over what is assigned elsewhere.
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


def assign(
    members: Iterable[str], partitions: int, weights: Mapping[int, int], owners: Mapping[int, str]
) -> dict[int, str]:
    """Every partition's node: counts as :func:`fair_shares`, weight spread, moves kept few.

    A placement that is good enough is kept as it is. Else weighted partitions are placed
    heaviest first: on their current owner while it stays within its share of partitions and of
    the total weight (rounded up), else on the member with the least weight so far that has room. Then the empty partitions: on their owner where it has
    room, else by rendezvous preference. Every node computes the same answer from the same inputs.
    """
    shares = fair_shares(members, partitions)
    nodes = sorted(shares)
    total = sum(w for p, w in weights.items() if 0 <= p < partitions and w > 0)
    cap = -(-total // len(nodes))
    # Good enough as it is (every partition held, the counts fair, no node over its weight share
    # by more than the heaviest partition less one, which is what placing heaviest-first can
    # leave): nothing moves, so a placement this function made is kept (no flapping).
    slack = max((w for w in weights.values() if w > 0), default=1) - 1
    current = {p: owners[p] for p in range(partitions) if owners.get(p) in shares}
    if len(current) == partitions:
        held = {n: [p for p, o in current.items() if o == n] for n in nodes}
        if all(len(held[n]) == shares[n] for n in nodes) and all(
            sum(max(0, weights.get(p, 0)) for p in held[n]) <= cap + slack for n in nodes
        ):
            return current
    count = dict.fromkeys(nodes, 0)
    load = dict.fromkeys(nodes, 0)
    result: dict[int, str] = {}

    def give(partition: int, node: str) -> None:
        result[partition] = node
        count[node] += 1
        load[node] += max(0, weights.get(partition, 0))

    heavy = sorted((p for p in range(partitions) if weights.get(p, 0) > 0), key=lambda p: (-weights[p], p))
    for partition in heavy:
        owner = owners.get(partition)
        if owner in shares and count[owner] < shares[owner] and load[owner] + weights[partition] <= cap:
            give(partition, owner)
    for partition in heavy:
        if partition not in result:
            room = [n for n in nodes if count[n] < shares[n]]
            give(partition, min(room, key=lambda n: (load[n], count[n], -preference(n, partition))))
    rest = [p for p in range(partitions) if p not in result]
    for partition in rest:
        owner = owners.get(partition)
        if owner in shares and count[owner] < shares[owner]:
            give(partition, owner)
    for partition in rest:
        if partition not in result:
            room = [n for n in nodes if count[n] < shares[n]]
            give(partition, max(room, key=lambda n: (shares[n] - count[n], preference(n, partition))))
    return result


def plan(
    node: str,
    members: Collection[str],
    partitions: int,
    held: Collection[int],
    owners: Mapping[int, str],
    weights: Mapping[int, int] | None = None,
) -> Plan:
    """What ``node`` should do now.

    Args:
        node: this node's id (counted as a member even before the watcher shows it).
        members: live node ids.
        partitions: the partition count.
        held: partitions this node holds and is not already giving up.
        owners: partition → node id holding it, for every held partition (any node).
        weights: partition → load its holder reported; with any above 0, the weight is spread
            too (:func:`assign`).
    """
    if weights and any(w > 0 for w in weights.values()):
        target_of = assign({*members, node}, partitions, weights, owners)
        mine = {p for p, n in target_of.items() if n == node}
        free = [p for p in mine if p not in held and owners.get(p, node) == node]
        free.sort(key=lambda p: (-weights.get(p, 0), -preference(node, p)))
        surplus = sorted((p for p in held if p not in mine), key=lambda p: (weights.get(p, 0), preference(node, p)))
        return Plan(len(mine), acquire=tuple(free), release=tuple(surplus))
    target = fair_shares({*members, node}, partitions)[node]
    if len(held) < target:
        free = [p for p in range(partitions) if p not in held and owners.get(p, node) == node]
        free.sort(key=lambda p: preference(node, p), reverse=True)
        return Plan(target, acquire=tuple(free[: target - len(held)]))
    if len(held) > target:
        surplus = sorted(held, key=lambda p: preference(node, p))
        return Plan(target, release=tuple(surplus[: len(held) - target]))
    return Plan(target)
