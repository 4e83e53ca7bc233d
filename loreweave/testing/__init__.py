"""Loreweave's test kit, shipped with the package: what its own tests use, its users can use too.

- :func:`eventually`: await a condition with a deadline instead of sleeping.
- :class:`ChaosProxy`: a TCP proxy between a NATS client and nats-server that cuts connections,
  drops the bytes in flight, or stalls one direction on demand.
- :class:`NodeProcess`, :func:`loreweave_run`, :func:`node_env`: a ``loreweave run`` node as a
  child process, started until ready (a signal, not a sleep), SIGKILLed or SIGTERMed.
- :func:`fresh_database`, :func:`create_database`, :func:`drop_database`: a database of a test's
  own on a PostgreSQL server.
- :mod:`loreweave.testing.chaos`: the exactly-once chaos benchmark of the quests, payments and
  journal actors (``benchmarks/chaos.py``, ``tests/test_chaos.py``). Unlike the rest of the kit,
  it knows the game's actors; import it explicitly.
"""

from loreweave.testing.databases import create_database, drop_database, fresh_database, with_database
from loreweave.testing.node import READY_PATTERN, NodeError, NodeProcess, loreweave_run, node_env
from loreweave.testing.proxy import DIRECTIONS, ChaosProxy, Direction, ProxyStats
from loreweave.testing.waiting import ConditionNotMet, eventually

__all__ = [
    "DIRECTIONS",
    "READY_PATTERN",
    "ChaosProxy",
    "ConditionNotMet",
    "Direction",
    "NodeError",
    "NodeProcess",
    "ProxyStats",
    "create_database",
    "drop_database",
    "eventually",
    "fresh_database",
    "loreweave_run",
    "node_env",
    "with_database",
]
