"""The capacity simulator: demand traces in, replicas, nodes, latency and cost out."""

from loreweave.ops.capacity.engine import simulate, simulate_tier
from loreweave.ops.capacity.from_serve import with_serve_settings
from loreweave.ops.capacity.model import (
    AutoscalingModel,
    CapacityModel,
    NodeModel,
    ReplicaModel,
    TierModel,
    load_capacity_model,
    parse_capacity_model,
    replicas_for,
)
from loreweave.ops.capacity.recommend import (
    Objective,
    Recommendation,
    TierRecommendation,
    fixed_capacity_model,
    recommend,
)
from loreweave.ops.capacity.report import plot_result, recommendations_markdown, summary_table
from loreweave.ops.capacity.results import SimulationResult, TierResult, TierTimeline
from loreweave.ops.capacity.runs import SimulationRun, load_model, recommend_files, simulate_files
from loreweave.ops.capacity.serve_policy import ServePolicy
from loreweave.ops.capacity.trace import (
    Trace,
    diurnal_trace,
    example_traces,
    launch_trace,
    load_trace,
    write_example_traces,
    write_trace,
)

__all__ = [
    "AutoscalingModel", "CapacityModel", "NodeModel", "Objective", "Recommendation", "ReplicaModel",
    "ServePolicy", "SimulationResult", "SimulationRun", "TierModel", "TierRecommendation", "TierResult",
    "TierTimeline", "Trace", "diurnal_trace", "example_traces", "fixed_capacity_model", "launch_trace",
    "load_capacity_model", "load_model", "load_trace", "parse_capacity_model", "plot_result",
    "recommend", "recommend_files", "recommendations_markdown", "replicas_for", "simulate",
    "simulate_files", "simulate_tier", "summary_table", "with_serve_settings", "write_example_traces",
    "write_trace",
]
