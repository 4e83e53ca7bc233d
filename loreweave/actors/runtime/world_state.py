"""One world's share of an actor's state: taken out, saved, put back.

An actor placed by world keeps ``state.worlds``: a dict of world -> that world's state (any
pydantic-serialisable value). This module moves single entries of that dict: a node that
gives up a partition takes its worlds out, the node that takes the partition over puts them
back. The dict is replaced, never mutated in place, so a timer iterating the old one while
a partition moves finishes its round undisturbed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgpack
from pydantic import BaseModel, TypeAdapter

from loreweave.actors.runtime.actor import Actor


def is_world_placed(actor: Actor) -> bool:
    """Whether ``actor`` is placed by world: declared so, in-memory, with a ``state.worlds`` dict."""
    state = getattr(actor, "state", None)
    return (
        actor.placement == "world"
        and actor.State is None
        and isinstance(state, BaseModel)
        and isinstance(getattr(state, "worlds", None), dict)
    )


class WorldStates:
    """Reads and writes one actor's per-world entries (``actor.state.worlds[world]``) as bytes."""

    def __init__(self, actor: Actor) -> None:
        if not is_world_placed(actor):
            raise TypeError(f"actor {actor.name} is not placed by world")
        self.actor = actor
        field = type(actor.state).model_fields["worlds"]  # type: ignore[attr-defined]
        value_type = field.annotation.__args__[1]  # type: ignore[union-attr]  # dict[str, X] -> X
        self._adapter: TypeAdapter[Any] = TypeAdapter(value_type)

    @property
    def worlds(self) -> dict[str, Any]:
        """The actor's world -> state dict as it is now."""
        return self.actor.state.worlds  # type: ignore[attr-defined, no-any-return]

    def dump(self, world: str) -> bytes | None:
        """One world's state as msgpack bytes, or None when the actor knows no such world."""
        value = self.worlds.get(world)
        if value is None:
            return None
        return msgpack.packb(self._adapter.dump_python(value, mode="json"), use_bin_type=True)  # type: ignore[no-any-return]

    def load(self, entries: dict[str, bytes]) -> None:
        """Put worlds back from :meth:`dump` bytes (replacing what the actor had for them)."""
        if not entries:
            return
        merged = dict(self.worlds)
        for world, data in entries.items():
            merged[world] = self._adapter.validate_python(msgpack.unpackb(data, raw=False))
        self.actor.state.worlds = merged  # type: ignore[attr-defined]

    def drop(self, worlds: Iterable[str]) -> None:
        """Forget worlds (another node runs them now)."""
        gone = set(worlds)
        if gone & self.worlds.keys():
            self.actor.state.worlds = {w: v for w, v in self.worlds.items() if w not in gone}  # type: ignore[attr-defined]
        forget = getattr(self.actor, "forget_world", None)
        if forget is not None:
            for world in gone:
                forget(world)
