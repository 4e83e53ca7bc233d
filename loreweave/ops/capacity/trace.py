"""Demand traces: concurrent players over time, read from and written to CSV.

A trace file has a header ``minute,players`` and one row per sample; the simulator
holds each sample until the next one.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loreweave.protocol.errors import ConfigError


@dataclass(frozen=True)
class Trace:
    """Concurrent players sampled at ``minutes`` (increasing, starting at 0)."""

    name: str
    minutes: np.ndarray
    players: np.ndarray

    @property
    def duration_s(self) -> float:
        """Length of the trace: up to one sample interval past the last sample."""
        if len(self.minutes) < 2:
            return 60.0
        return float(self.minutes[-1] + (self.minutes[-1] - self.minutes[-2])) * 60.0

    @property
    def peak(self) -> float:
        """Most concurrent players."""
        return float(self.players.max())

    @property
    def mean(self) -> float:
        """Time-weighted mean of concurrent players."""
        edges = np.append(self.minutes, self.duration_s / 60.0)
        return float(np.sum(self.players * np.diff(edges)) / (edges[-1] - edges[0]))

    def players_at(self, seconds: np.ndarray) -> np.ndarray:
        """Players at each time in ``seconds`` (the last sample at or before it)."""
        index = np.searchsorted(self.minutes * 60.0, seconds, side="right") - 1
        return self.players[np.clip(index, 0, len(self.players) - 1)]


def load_trace(path: Path) -> Trace:
    """Read a ``minute,players`` CSV.

    Raises:
        ConfigError: naming the file and line of a bad row.
    """
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read: {exc.strerror}") from None
    if not rows or [cell.strip() for cell in rows[0][:2]] != ["minute", "players"]:
        raise ConfigError(f"{path}:1", "header must be 'minute,players'")
    minutes: list[float] = []
    players: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            minute, count = float(row[0]), float(row[1])
        except (ValueError, IndexError):
            raise ConfigError(f"{path}:{line}", f"must be two numbers, got {row!r}") from None
        if count < 0 or not math.isfinite(count):
            raise ConfigError(f"{path}:{line}", f"players must be >= 0, got {count:g}")
        if minutes and minute <= minutes[-1]:
            raise ConfigError(f"{path}:{line}", f"minute must increase, got {minute:g}")
        minutes.append(minute)
        players.append(count)
    if not minutes:
        raise ConfigError(str(path), "has no samples")
    if minutes[0] != 0:
        raise ConfigError(f"{path}:2", f"the first minute must be 0, got {minutes[0]:g}")
    return Trace(path.stem, np.array(minutes), np.array(players))


def write_trace(trace: Trace, path: Path) -> Path:
    """Write ``trace`` as a ``minute,players`` CSV and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["minute", "players"])
        for minute, count in zip(trace.minutes, trace.players):
            writer.writerow([f"{minute:g}", int(round(count))])
    return path


def diurnal_trace(name: str, peak: float, *, trough_ratio: float = 0.22, seed: int = 1) -> Trace:
    """A 24-hour day, one sample a minute: trough near 05:00, peak near 20:30, small noise."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(24 * 60, dtype=float)
    hours = minutes / 60.0
    # Two harmonics give the slow morning climb and the sharp evening peak of game traffic.
    shape = 0.55 * np.cos(2 * np.pi * (hours - 20.5) / 24) + 0.18 * np.cos(4 * np.pi * (hours - 20.5) / 24)
    shape = (shape - shape.min()) / (shape.max() - shape.min())
    players = peak * (trough_ratio + (1 - trough_ratio) * shape)
    players *= 1 + rng.normal(0, 0.02, size=players.shape)
    players *= peak / players.max()
    return Trace(name, minutes, np.clip(np.round(players), 0, None))


def launch_trace(name: str, *, before: float = 800, spike: float = 24_000, settle: float = 12_000,
                 launch_hour: float = 16.0, seed: int = 2) -> Trace:
    """A launch day: a quiet beta, a 20-minute rush at ``launch_hour`` to ``spike``, then a slow settle."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(24 * 60, dtype=float)
    since = minutes - launch_hour * 60
    rush = np.clip(since / 20.0, 0, 1)
    decay = np.exp(-np.clip(since - 20, 0, None) / 150.0)
    after = settle + (spike - settle) * decay
    players = np.where(since < 0, before, before + rush * (after - before))
    players *= 1 + rng.normal(0, 0.02, size=players.shape)
    players *= spike / players.max()
    return Trace(name, minutes, np.clip(np.round(players), 0, None))


def example_traces() -> list[Trace]:
    """The traces shipped in ``deploy/capacity/traces/``."""
    return [
        diurnal_trace("diurnal-1k", 1_000),
        diurnal_trace("diurnal-10k", 10_000, seed=3),
        launch_trace("launch-spike"),
    ]


def write_example_traces(directory: Path) -> list[Path]:
    """Write :func:`example_traces` as ``<name>.csv`` files into ``directory``."""
    return [write_trace(trace, Path(directory) / f"{trace.name}.csv") for trace in example_traces()]
