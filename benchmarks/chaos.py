"""Exactly-once under faults: quests, payments and journal in a ``loreweave run`` node that is SIGKILLed,
cut off with its bytes in flight dropped, and flooded.

    python benchmarks/chaos.py [--quick] [--kills N] [--cuts N] [--burst N] [--seed S]

Scenarios, each in a world of its own: ``kills`` (the node SIGKILLed at random moments of a
steady load, restarted each time), ``cuts`` (its NATS connection, through a chaos proxy, cut
after the bytes the server sent it were dropped for a moment), ``burst`` (that many frames at
once). A game server publishes ``player.collected`` frames that advance a quest, narrative beats
and NPC lines for the journal, and purchases retried with their key until a receipt comes.
Each scenario prints a row per actor (sent / applied / lost / doubled, read from quest_state,
the ledger, event_journal and the stream) and the ledger check; the last line is
``lost 0, doubled 0`` when everything was applied exactly once (exit status 0), else
``lost N, doubled M`` after the frames concerned (exit status 1).

Fresh embedded nats-server and PostgreSQL in a new temporary directory every run, unless
``--nats-url`` / ``--database-url`` (or LOREWEAVE_NATS_URL / LOREWEAVE_DATABASE_URL) name
servers; a given PostgreSQL gets a database of the run's own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace

from loreweave.testing.chaos import SCENARIOS, ChaosConfig, run_chaos


def config_from(argv: list[str] | None = None) -> ChaosConfig:
    """The run's configuration from the command line (and LOREWEAVE_NATS_URL / LOREWEAVE_DATABASE_URL)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few kills, one cut, a small burst")
    parser.add_argument("--kills", type=int, help="SIGKILLs of the node (default 20; quick 3)")
    parser.add_argument("--cuts", type=int, help="connection cuts (default 10; quick 1)")
    parser.add_argument("--burst", type=int, help="frames in the burst (default 50000; quick 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the faults' moments and the workload")
    parser.add_argument("--players", type=int, help="players sending frames (default 6; quick 4)")
    parser.add_argument("--rate", type=float, help="frames/s sent during faults (default 150; quick 100)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="which scenarios, in order")
    parser.add_argument("--nats-url", default=os.environ.get("LOREWEAVE_NATS_URL"))
    parser.add_argument("--database-url", default=os.environ.get("LOREWEAVE_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (node log, data)")
    args = parser.parse_args(argv)
    config = ChaosConfig.quick() if args.quick else ChaosConfig()
    chosen = {name: getattr(args, name) for name in ("kills", "cuts", "burst", "players", "rate")}
    return replace(
        config, **{name: value for name, value in chosen.items() if value is not None},
        seed=args.seed, scenarios=tuple(name.strip() for name in args.scenarios.split(",") if name.strip()),
        nats_url=args.nats_url or None, database_url=args.database_url or None, keep=args.keep,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status is 0 when nothing was lost or doubled."""
    config = config_from(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    report = asyncio.run(run_chaos(config, say))
    print()
    print(report.render(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
