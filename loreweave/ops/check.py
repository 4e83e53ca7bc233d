"""``ops check``: does the Serve config fit the Ray cluster config?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from loreweave.ops.cluster import TIER_LABEL, ClusterConfig, NodeType, load_cluster_config
from loreweave.ops.serve_config import ReplicaDemand, load_replica_demands

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, which field, and why."""

    level: Level
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.level}: {self.field}: {self.reason}"


def replicas_per_node(node: NodeType, demand: ReplicaDemand) -> int:
    """How many of the demand's replicas one node of ``node`` holds (0: none fits)."""
    counts = [math.floor(node.resources.get(key, 0.0) / need + 1e-9)
              for key, need in demand.resources.items() if need > 0]
    return min(counts) if counts else 1_000_000


def _hosts(cluster: ClusterConfig, demand: ReplicaDemand) -> list[NodeType]:
    """The worker node types the demand is meant for (label selector, else tier label, else all)."""
    workers = cluster.workers
    if demand.label_selector:
        return [n for n in workers if all(n.labels.get(k) == v for k, v in demand.label_selector.items())]
    if demand.tier is not None and any(n.tier for n in workers):
        return [n for n in workers if n.tier == demand.tier]
    return workers


def check(cluster: ClusterConfig, demands: Sequence[ReplicaDemand]) -> list[Finding]:
    """Every misfit between the deployments and the node types, errors first."""
    findings: list[Finding] = []
    gpu_types = [n for n in cluster.workers if n.resources.get("GPU", 0) > 0]
    for demand in demands:
        hosts = _hosts(cluster, demand)
        if not hosts:
            wanted = dict(demand.label_selector) or {TIER_LABEL: str(demand.tier)}
            findings.append(Finding("error", demand.location, f"no worker node type has the labels {wanted}"))
            continue
        fitting = [(n, replicas_per_node(n, demand)) for n in hosts]
        fitting = [(n, per) for n, per in fitting if per > 0]
        shape = ", ".join(f"{k}={v:g}" for k, v in sorted(demand.resources.items()))
        if not fitting:
            largest = max(hosts, key=lambda n: (n.resources.get("GPU", 0), n.resources.get("CPU", 0)))
            findings.append(Finding("error", f"{demand.location}.resources",
                                    f"a replica needs {shape}; no node type for it has that "
                                    f"(largest: {largest.name} with {dict(largest.resources)})"))
            continue
        capacity = sum(n.max_workers * per for n, per in fitting)
        if demand.max_replicas > capacity:
            detail = " + ".join(f"{n.name} {n.max_workers}x{per}" for n, per in fitting)
            findings.append(Finding("error", f"{demand.location}.autoscaling_config.max_replicas",
                                    f"{demand.max_replicas} replicas do not fit: the node types hold "
                                    f"{capacity} ({detail} replicas per node); raise max_workers"))
        warm = sum(n.min_workers * per for n, per in fitting)
        if demand.min_replicas > warm and demand.tier is not None:
            findings.append(Finding("warning", f"{demand.location}.autoscaling_config.min_replicas",
                                    f"{demand.min_replicas} replicas but min_workers hold {warm}: "
                                    f"the rest wait for a node to start (minutes) after every deploy"))
        if (demand.target_ongoing_requests is not None and demand.max_ongoing_requests is not None
                and demand.target_ongoing_requests > demand.max_ongoing_requests):
            findings.append(Finding("error", f"{demand.location}.autoscaling_config.target_ongoing_requests",
                                    f"{demand.target_ongoing_requests:g} exceeds max_ongoing_requests "
                                    f"({demand.max_ongoing_requests}): replicas never reach the target"))
        if demand.tier is not None and not demand.label_selector and len(gpu_types) > len(hosts):
            findings.append(Finding("warning", f"{demand.location}.resources",
                                    f"no label_selector {{{TIER_LABEL}: {demand.tier}}}: Ray may place a "
                                    f"replica on another tier's GPU node type"))
        if demand.resources.get("GPU", 0) == 0 and all(n.resources.get("GPU", 0) > 0 for n, _ in fitting):
            findings.append(Finding("warning", f"{demand.location}.resources",
                                    "a CPU-only deployment can only run on GPU node types: it keeps one alive"))
    total = sum(n.max_workers for n in cluster.workers)
    if cluster.max_workers < total:
        findings.append(Finding("warning", "max_workers",
                                f"{cluster.max_workers} caps the cluster below the node types' sum ({total})"))
    return sorted(findings, key=lambda f: (f.level != "error", f.field))


def check_files(cluster_path: Path, serve_path: Path) -> list[Finding]:
    """Load both files (each refused with its field if invalid) and :func:`check` them together."""
    return check(load_cluster_config(cluster_path), load_replica_demands(serve_path))
