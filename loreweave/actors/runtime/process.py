"""Process-wide settings for a process whose main work is handling frames."""

from __future__ import annotations

import gc

#: Allocations (net) between two young-generation collections; CPython's default is 700.
YOUNG_THRESHOLD = 20_000


def tune_gc(young: int = YOUNG_THRESHOLD) -> None:
    """Make the cyclic garbage collector cheaper per frame: call once the process has started.

    Each frame allocates a few dozen containers (messages, frames, events, coroutines) that
    reference counting frees; with CPython's default thresholds the collector still ran every
    700 allocations and, every hundred runs, walked every object the imports left (pydantic's
    and OpenTelemetry's included): ~10% of a node's CPU at full load. What exists now is moved
    out of the collector's sight (``gc.freeze``: it lives as long as the process) and young
    collections run every ``young`` allocations instead. Cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, 50, 100)
