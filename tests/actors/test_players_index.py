"""Players' region index gives the same "who is near" answers as a scan of every player did."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from loreweave.actors.players import MAX_MET, Players, PlayersState
from loreweave.schemas import PlayerGetNearby, PlayerHeartbeat, PlayerJoined, PlayerLeft, PlayerMet, PlayerMoved

REGIONS = ["ford", "mire", "keep", "", "vale"]
WORLDS = ["w1", "w2"]


@dataclass
class FrameStub:
    world: str
    source: str = "test"


@dataclass
class Ctx:
    """What the handlers read of a context: the frame's world and source; emitted events are kept."""

    frame: FrameStub
    emitted: list[Any] = field(default_factory=list)

    async def emit(self, event: Any, **_: Any) -> None:
        self.emitted.append(event)


def scan(actor: Players, world: str, player_id: str, region: str) -> list[str]:
    """The answer before the index: every player of the world, filtered."""
    return sorted(
        other for other, record in actor.state.worlds.get(world, {}).items()
        if other != player_id and record.online and record.region == region
    )


async def test_near_answers_match_a_full_scan_over_mixed_regions_and_worlds() -> None:
    rng = random.Random(7)
    actor = Players(session_timeout_s=3600)
    met = 0
    for step in range(3000):
        world = rng.choice(WORLDS)
        player = f"p{rng.randrange(120)}"
        ctx = Ctx(FrameStub(world))
        roll = rng.random()
        if roll < 0.35:
            event: Any = PlayerJoined(player_id=player, region=rng.choice(REGIONS))
        elif roll < 0.75:
            event = PlayerMoved(player_id=player, region=rng.choice(REGIONS[:3] + REGIONS[4:]))
        elif roll < 0.9:
            event = PlayerLeft(player_id=player)
        else:
            event = PlayerHeartbeat(player_id=player)
        record = actor.state.worlds.get(world, {}).get(player)
        was_online, old_region = (record.online, record.region) if record else (False, "")
        arriving = isinstance(event, PlayerJoined) and not was_online or (
            isinstance(event, PlayerMoved) and was_online and old_region != event.region)
        new_region = event.region if isinstance(event, PlayerMoved) else (
            (event.region or old_region) if isinstance(event, PlayerJoined) else old_region)
        expected_others = scan(actor, world, player, new_region)[:MAX_MET] if arriving and new_region else []
        await actor.player_event(event, ctx)  # type: ignore[arg-type]
        sent = [e for e in ctx.emitted if isinstance(e, PlayerMet)]
        assert [e.others for e in sent] == ([expected_others] if expected_others else []), step
        met += len(sent)
        if step % 50 == 0:
            for w in WORLDS:
                for pid in list(actor.state.worlds.get(w, {})):
                    nearby = await actor.get_nearby(PlayerGetNearby(player_id=pid), Ctx(FrameStub(w)))  # type: ignore[arg-type]
                    assert nearby.players == scan(actor, w, pid, nearby.region)
    assert met > 100  # the sequence did make many meetings


async def test_timeouts_restores_and_closed_worlds_keep_the_index_true() -> None:
    actor = Players(session_timeout_s=0.0)
    ctx = Ctx(FrameStub("w1"))
    for player, region in (("ann", "ford"), ("bob", "ford"), ("cat", "mire")):
        await actor.player_event(PlayerJoined(player_id=player, region=region), ctx)  # type: ignore[arg-type]
    assert actor._near("w1", "zed", "ford") == ["ann", "bob"]
    snapshot = actor.snapshot()

    for record in actor.state.worlds["w1"].values():
        record.last_seen = time.time() - 1
    actor.publish = _no_publish  # type: ignore[method-assign]
    await actor.sweep()
    assert actor._near("w1", "zed", "ford") == [] == scan(actor, "w1", "zed", "ford")

    actor.restore(snapshot)  # a new state object: the index is rebuilt from it
    assert actor._near("w1", "zed", "ford") == ["ann", "bob"] == scan(actor, "w1", "zed", "ford")
    actor.state = PlayersState.model_validate(snapshot)  # as persistence's load_state does
    await actor.player_event(PlayerMoved(player_id="ann", region="mire"), ctx)  # type: ignore[arg-type]
    assert actor._near("w1", "zed", "mire") == ["ann", "cat"] == scan(actor, "w1", "zed", "mire")
    assert actor._near("w1", "zed", "ford") == ["bob"]


async def _no_publish(*_: Any, **__: Any) -> None:
    return None
