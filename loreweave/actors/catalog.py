"""The actor catalog: every game actor by name, and building any subset of them.

``loreweave run --actors a,b,c`` hosts the subset in one process, so a deployment can
place actors across processes and hosts (they only talk through the bus).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from loreweave.actors.ambience import Ambience
from loreweave.actors.base import GameActor
from loreweave.actors.clock import Clock
from loreweave.actors.journal import Journal
from loreweave.actors.language import Language
from loreweave.actors.npc import Npc
from loreweave.actors.payments import Payments
from loreweave.actors.players import Players
from loreweave.actors.qos import Qos
from loreweave.actors.quests import Quests, load_quests
from loreweave.actors.registry import Registry
from loreweave.actors.runtime import Actor
from loreweave.actors.settings import Settings
from loreweave.actors.storyteller import Storyteller
from loreweave.actors.versions import Versions
from loreweave.actors.weather import Weather
from loreweave.actors.world import World
from loreweave.protocol import ConfigError

logger = logging.getLogger(__name__)

#: Actor name -> class, in the order a node starts them.
ACTORS: dict[str, type[Actor]] = {
    "settings": Settings,
    "registry": Registry,
    "world": World,
    "players": Players,
    "weather": Weather,
    "npc": Npc,
    "quests": Quests,
    "storyteller": Storyteller,
    "ambience": Ambience,
    "language": Language,
    "qos": Qos,
    "payments": Payments,
    "clock": Clock,
    "journal": Journal,
    "versions": Versions,  # last: the simulator takes its answer as "every actor has subscribed"
}


def default_quests_dir() -> Path | None:
    """``examples/quests`` of the working directory, else of the source tree, if there is one."""
    for candidate in (Path.cwd() / "examples" / "quests", Path(__file__).resolve().parents[2] / "examples" / "quests"):
        if candidate.is_dir():
            return candidate
    return None


def parse_actor_names(spec: str | Iterable[str]) -> list[str]:
    """Actor names from ``"a,b,c"`` (or a list); ``all`` means every actor.

    Raises:
        ConfigError: for an unknown name, listing the known ones.
    """
    names = [name.strip() for name in (spec.split(",") if isinstance(spec, str) else spec) if name.strip()]
    if names == ["all"] or not names:
        return list(ACTORS)
    unknown = [name for name in names if name not in ACTORS]
    if unknown:
        raise ConfigError("actors", f"unknown actor {unknown[0]!r} (known: all, {', '.join(sorted(ACTORS))})")
    return list(dict.fromkeys(names))


def build_actors(
    names: Iterable[str],
    seed: int = 0,
    *,
    quests_dir: Path | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    heartbeat_s: float | None = None,
) -> list[Actor]:
    """Build the named actors (in catalog order), each with ``seed`` and its ``options[name]``.

    The journal is no game actor: it takes no seed nor heartbeat.

    Args:
        names: actor names (see :data:`ACTORS`), or ``["all"]``.
        seed: the seed of every random choice.
        quests_dir: the quest files of the ``quests`` actor (default: :func:`default_quests_dir`).
        options: extra constructor arguments per actor, e.g. ``{"clock": {"speed": 60}}``.
        heartbeat_s: seconds between actor heartbeats (default: each actor's).

    Raises:
        ConfigError: for an unknown actor name or bad quest files.
    """
    wanted = set(parse_actor_names(list(names)))
    options = options or {}
    builders: dict[str, Callable[..., Actor]] = dict(ACTORS)
    actors: list[Actor] = []
    for name in ACTORS:
        if name not in wanted:
            continue
        if not issubclass(ACTORS[name], GameActor):
            actors.append(builders[name](**options.get(name, {})))
            continue
        kwargs: dict[str, Any] = {"seed": seed, **options.get(name, {})}
        if heartbeat_s is not None:
            kwargs.setdefault("heartbeat_s", heartbeat_s)
        if name == "quests" and "definitions" not in kwargs:
            directory = quests_dir or default_quests_dir()
            if directory is None:
                logger.warning("no quest files found (examples/quests); the quests actor runs with none")
            kwargs["definitions"] = load_quests(directory) if directory else {}
        actors.append(builders[name](**kwargs))
    return actors
