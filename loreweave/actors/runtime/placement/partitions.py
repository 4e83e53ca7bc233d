"""Partitions: the unit of placement, and the world → partition map.

Nodes own *partitions*, not worlds. A world belongs to exactly one partition
(``partition_of(world, count)``), and the node holding that partition's lease handles
every actor of that world. Partitions rather than worlds because:

- the number of leases is bounded: a node renews ``count / nodes`` leases whatever the
  number of worlds, so renewal traffic does not grow with the game;
- rebalancing is cheap: moving one partition moves a whole bucket of worlds with one
  lease handover, and the fair share of a node is a small integer arithmetic;
- game servers create worlds freely (one per match, per shard, per test): a world needs
  no registration, no lease of its own and no coordination before its first frame.

The count is part of the deployment: every node of a cluster must use the same count, and
changing it moves most worlds (stop the cluster, change it, start again).
"""

from __future__ import annotations

import functools

from loreweave.protocol.errors import ConfigError

#: Default number of partitions: enough for an even spread over a few dozen nodes, few
#: enough that one node renews a handful of leases per period.
DEFAULT_PARTITIONS = 64
#: The most partitions a cluster may have (leases are renewed one message each).
MAX_PARTITIONS = 4096

_ROOT = "lw."
_RPC = "lw.rpc."
# Second tokens that name system subjects, not worlds (same set as protocol.subjects.RESERVED_WORLDS).
_SYSTEM = frozenset({"dlq", "rpc", "ai", "sys", "ops", "kb"})


def check_partition_count(count: int) -> int:
    """Return ``count`` if it is a valid number of partitions.

    Raises:
        ConfigError: when it is not an int in ``1..MAX_PARTITIONS``.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PARTITIONS:
        raise ConfigError("placement.partitions", f"must be an integer in 1..{MAX_PARTITIONS}, got {count!r}")
    return count


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash of ``data``."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


@functools.lru_cache(maxsize=65536)
def partition_of(world: str, count: int = DEFAULT_PARTITIONS) -> int:
    """The partition of ``world``: 32-bit FNV-1a of its UTF-8 bytes modulo ``count``.

    The same function as NATS's ``{{partition(count, ...)}}`` subject transform, which the events
    stream uses to republish each event under its partition (see
    :func:`loreweave.protocol.subjects.partition_subject_transform`); stable across processes,
    hosts and languages (unlike Python's ``hash``), so every node, the server and any game
    server compute the same answer.
    """
    return fnv1a_32(world.encode()) % count


def world_of_subject(subject: str) -> str | None:
    """The world token of a frame subject, without a full parse; None for a system subject.

    ``lw.<world>.<domain>.<event>`` and ``lw.rpc.<world>.<domain>.<name>`` give ``<world>``;
    ``lw.dlq.*``, ``lw.sys.*``... and anything not under ``lw.`` give None. The subject is
    not validated beyond that (the bus refuses malformed subjects before they get here).
    """
    if subject.startswith(_RPC):
        start = len(_RPC)
    elif subject.startswith(_ROOT):
        start = len(_ROOT)
    else:
        return None
    end = subject.find(".", start)
    world = subject[start:end] if end >= 0 else subject[start:]
    if not world or (start == len(_ROOT) and world in _SYSTEM):
        return None
    return world


def partition_of_subject(subject: str, count: int = DEFAULT_PARTITIONS) -> int | None:
    """The partition of a frame subject's world, or None for a system subject."""
    world = world_of_subject(subject)
    return None if world is None else partition_of(world, count)
