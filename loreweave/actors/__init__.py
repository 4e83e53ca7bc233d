"""Actors: the runtime and one module per game system.

The game actors are listed in :mod:`loreweave.actors.catalog` (``ACTORS``, ``build_actors``).
"""

from loreweave.actors.runtime import Actor, ActorNode, Bus, Context, every, on, reply

__all__ = ["Actor", "ActorNode", "Bus", "Context", "every", "on", "reply"]
