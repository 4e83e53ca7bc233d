"""NPC daily schedules and needs: pure functions of the hour, the needs and the weather."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from loreweave.schemas.npc import ScheduleKind

Place = Literal["home", "work", "social", "roam"]

#: Hour at which each activity of a day starts, and where it happens.
SCHEDULES: dict[ScheduleKind, tuple[tuple[int, str, Place], ...]] = {
    "day": (
        (0, "sleep", "home"), (6, "eat", "home"), (8, "work", "work"), (12, "eat", "social"),
        (13, "work", "work"), (18, "socialise", "social"), (22, "sleep", "home"),
    ),
    "night": (
        (0, "work", "work"), (6, "sleep", "home"), (14, "eat", "home"), (16, "socialise", "social"),
        (20, "work", "work"),
    ),
    "wanderer": (
        (0, "sleep", "home"), (7, "wander", "roam"), (19, "socialise", "social"), (23, "sleep", "home"),
    ),
}
#: Per game hour: how each need moves while doing an activity (others: the ``*`` row).
NEED_RATES: dict[str, dict[str, float]] = {
    "*": {"hunger": 0.05, "energy": -0.04, "social": -0.03},
    "sleep": {"hunger": 0.02, "energy": 0.15, "social": 0.0},
    "eat": {"hunger": -0.35, "energy": -0.02, "social": 0.02},
    "socialise": {"hunger": 0.04, "energy": -0.03, "social": 0.2},
    "shelter": {"hunger": 0.04, "energy": 0.0, "social": 0.0},
}
NEEDS = ("hunger", "energy", "social")
OUTDOOR = frozenset({"wander", "work"})
BAD_WEATHER = frozenset({"storm", "snow"})


@dataclass(frozen=True)
class Plan:
    """What an NPC should be doing now, where, and why."""

    activity: str
    place: Place
    reason: str


def scheduled(kind: ScheduleKind, hour: int) -> tuple[str, Place]:
    """The activity and place the schedule gives for ``hour``."""
    activity: str = "sleep"
    place: Place = "home"
    for start, name, where in SCHEDULES[kind]:
        if hour >= start:
            activity, place = name, where
    return activity, place


def plan(kind: ScheduleKind, hour: int, needs: dict[str, float], weather: str, outdoor_work: bool) -> Plan:
    """Schedule first, overridden by exhaustion, hunger, then bad weather outdoors."""
    activity, place = scheduled(kind, hour)
    if needs["energy"] < 0.1 and activity != "sleep":
        return Plan("sleep", "home", "tired")
    if needs["hunger"] > 0.85 and activity not in ("eat", "sleep"):
        return Plan("eat", "social", "hungry")
    if weather in BAD_WEATHER and (activity == "wander" or (activity == "work" and outdoor_work)):
        return Plan("shelter", "social", "weather")
    return Plan(activity, place, "schedule")


def update_needs(needs: dict[str, float], activity: str, hours: int) -> dict[str, float]:
    """Needs after ``hours`` game hours of ``activity``, kept within [0, 1]."""
    rates = {**NEED_RATES["*"], **NEED_RATES.get(activity, {})}
    return {need: round(min(1.0, max(0.0, needs[need] + rates[need] * hours)), 3) for need in NEEDS}


def mood(needs: dict[str, float]) -> str:
    """One word for how an NPC feels, from its needs."""
    if needs["energy"] < 0.2:
        return "weary"
    if needs["hunger"] > 0.7:
        return "hungry"
    if needs["social"] < 0.25:
        return "lonely"
    if needs["social"] > 0.7 and needs["energy"] > 0.5:
        return "cheerful"
    return "calm"
