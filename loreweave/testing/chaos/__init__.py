"""The exactly-once chaos benchmark of the persistent actors (quests, payments, journal).

A ``loreweave run`` node hosts the three actors in a child process, connected to NATS through a
:class:`~loreweave.testing.ChaosProxy`; a game server publishes a known workload while the node
is SIGKILLed, its connection cut with the bytes in flight dropped, or flooded with a burst. The
ground truth (quest rows, the ledger, the journal, the stream) is then compared with what was
sent: per actor, frames sent / applied / lost / doubled, and ``lost N, doubled M`` in the end.

``benchmarks/chaos.py`` is the command line; ``tests/test_chaos.py`` runs :meth:`ChaosConfig.quick`.
"""

from loreweave.testing.chaos.report import ChaosReport, LedgerCheck, Row, ScenarioResult
from loreweave.testing.chaos.rig import ChaosConfig, Rig, open_rig
from loreweave.testing.chaos.scenarios import SCENARIOS, run_chaos

__all__ = ["SCENARIOS", "ChaosConfig", "ChaosReport", "LedgerCheck", "Rig", "Row", "ScenarioResult", "open_rig",
           "run_chaos"]
