"""The simulator: a game server playing a world with N players, and its report."""

from loreweave.simulate.agent import GameServer, PlayerAgent, ServerStats
from loreweave.simulate.observer import SOURCE, Observer, Percentiles
from loreweave.simulate.report import SimulationReport
from loreweave.simulate.runner import actors_running, simulate
from loreweave.simulate.world_map import NPCS, REGIONS, opening

__all__ = [
    "NPCS",
    "REGIONS",
    "SOURCE",
    "GameServer",
    "Observer",
    "Percentiles",
    "PlayerAgent",
    "ServerStats",
    "SimulationReport",
    "actors_running",
    "opening",
    "simulate",
]
