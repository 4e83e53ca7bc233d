"""``python -m loreweave.testing.chaos.host --actors quests,payments,journal``: ``loreweave run`` plus the journal.

The actor catalog behind ``loreweave run`` does not list ``journal`` (``loreweave up`` adds it
by hand), so the chaos rig hosts the actors under test with this stand-in until it does
(:func:`loreweave.testing.chaos.rig.node_command` switches by itself). It does what
``loreweave run`` does: the configured NATS and database, one node, SIGTERM drains.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from loreweave.actors.catalog import build_actors
from loreweave.actors.journal import Journal
from loreweave.actors.runtime import Actor, ActorNode, Bus
from loreweave.config import load_settings
from loreweave.db import open_database


async def host(actor_names: list[str], seed: int, quests_dir: Path | None) -> None:
    """Host the named actors (``journal`` included) until SIGTERM/SIGINT."""
    settings = load_settings()
    if not settings.nats_url:
        raise SystemExit("LOREWEAVE_NATS_URL must be set")
    game = [name for name in actor_names if name != "journal"]
    async with open_database(settings) as database:
        bus = await Bus.connect(settings.nats_url, name=f"loreweave-run:{','.join(actor_names)}"[:120],
                                max_frame_bytes=settings.max_frame_bytes)
        actors: list[Actor] = list(build_actors(game, seed, quests_dir=quests_dir)) if game else []
        if "journal" in actor_names:
            actors.append(Journal())
        node = ActorNode(bus, actors, capacity=settings.mailbox_capacity, attempts=settings.handler_attempts,
                         database=database)
        await node.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    """Parse ``--actors``, ``--seed`` and ``--quests`` and host the actors."""
    parser = argparse.ArgumentParser(prog="python -m loreweave.testing.chaos.host")
    parser.add_argument("--actors", default=",".join(("quests", "payments", "journal")))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quests", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=load_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = [name.strip() for name in args.actors.split(",") if name.strip()]
    asyncio.run(host(names, args.seed, args.quests))


if __name__ == "__main__":
    main()
