"""Weather events: a region's weather changed, and the report request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.clock import Season
from loreweave.schemas.common import Id

Condition = Literal["clear", "cloudy", "rain", "storm", "fog", "snow"]


@event("weather.changed", key="region")
class WeatherChanged(Event):
    """A region's weather changed (sent only on a change)."""

    region: Id
    condition: Condition
    previous: Condition
    season: Season
    intensity: float = Field(default=0.5, ge=0, le=1)


@event("weather.get_report")
class WeatherGetReport(Event):
    """Request: the weather of every region of a world."""


@event("weather.report")
class WeatherReport(Event):
    """Reply to ``weather.get_report``."""

    season: Season
    regions: dict[str, Condition]
