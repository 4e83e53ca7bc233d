"""Actors: the runtime and one module per game system."""

from loreweave.actors.runtime import Actor, ActorNode, Bus, Context, every, on, reply

__all__ = ["Actor", "ActorNode", "Bus", "Context", "every", "on", "reply"]
