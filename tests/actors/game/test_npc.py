"""NPCs: schedules and needs, movement without teleporting, dialogue, relationships, memory."""

from __future__ import annotations

from loreweave.actors.clock import Clock
from loreweave.actors.npc import (
    DialogueLine,
    DialogueRequest,
    FallbackDialogue,
    Npc,
    NpcWorld,
    ScriptedDialogue,
    plan,
    scheduled,
    standing,
    update_needs,
)
from loreweave.schemas import (
    ClockTick,
    NpcActivityChanged,
    NpcGetState,
    NpcMoved,
    NpcRelationshipChanged,
    NpcSaid,
    NpcSpawned,
    PlayerJoined,
    PlayerSpoke,
    QosLevelChanged,
    QosSample,
    QuestCompleted,
    SettingsChanged,
    WorldSettings,
)

from .conftest import ask, eventually, record, settle, small_map

RESTED = {"hunger": 0.2, "energy": 0.8, "social": 0.5}


def test_schedule_and_needs() -> None:
    assert scheduled("day", 3) == ("sleep", "home")
    assert scheduled("day", 9) == ("work", "work")
    assert scheduled("night", 2) == ("work", "work")
    assert plan("day", 9, RESTED, "clear", False).activity == "work"
    assert plan("day", 9, {**RESTED, "energy": 0.05}, "clear", False).reason == "tired"
    assert plan("day", 9, {**RESTED, "hunger": 0.9}, "clear", False).activity == "eat"
    assert plan("day", 9, RESTED, "storm", True).activity == "shelter"
    assert plan("day", 9, RESTED, "storm", False).activity == "work"  # indoor work goes on
    assert update_needs(RESTED, "sleep", 4)["energy"] == 1.0
    assert update_needs(RESTED, "work", 2)["hunger"] == 0.3
    assert [standing(v) for v in (-0.9, -0.3, 0.0, 0.3, 0.9)] == ["hostile", "wary", "neutral", "friendly", "ally"]


async def test_npcs_follow_their_day_one_region_at_a_time(bus, start_node, world, frames) -> None:
    await start_node(Clock(speed=1440, tick_minutes=30, resolution_s=0.02), Npc(seed=1))
    await bus.emit(small_map(), world, source="test")
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam", role="farmer", region="ford", work="mire",
                              social="peaks"), world, source="test")
    await bus.emit(NpcSpawned(npc_id="wren", name="Wren", region="mire", schedule="wanderer"), world, source="test")
    await eventually(lambda: len(frames.of(ClockTick)) >= 96, timeout=10)  # two game days
    where = {"tam": "ford", "wren": "mire"}
    for move in frames.of(NpcMoved):
        assert move.from_region == where[move.npc_id], "an NPC left a region it was not in"
        where[move.npc_id] = move.to_region
    tam_places = {m.to_region for m in frames.of(NpcMoved) if m.npc_id == "tam"}
    assert {"mire", "peaks", "ford"} <= tam_places
    activities = {a.activity for a in frames.of(NpcActivityChanged) if a.npc_id == "tam"}
    assert {"work", "eat", "sleep", "socialise"} <= activities
    state = await ask(bus, world, NpcGetState(npc_id="tam"))
    assert state.region == where["tam"] and set(state.needs) == {"hunger", "energy", "social"}


async def test_talking_builds_relationships_memory_and_lines(bus, start_node, world, frames) -> None:
    npc = Npc(seed=3)
    await start_node(npc)
    await bus.emit(small_map(), world, source="test")
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam", role="farmer", region="ford"), world, source="test")
    await eventually(lambda: "tam" in npc.state.worlds.get(world, NpcWorld()).npcs)  # spawns have their own handler
    for number in range(6):
        await bus.emit(PlayerSpoke(player_id="ann", npc_id="tam", text=f"Tell me about the bridge {number}"),
                       world, source="test")
    await bus.emit(PlayerSpoke(player_id="bob", npc_id="tam", text="You are an idiot"), world, source="test")
    await eventually(lambda: len(frames.of(NpcSaid)) == 7)
    said = frames.of(NpcSaid)
    assert {line.to_player for line in said} == {"ann", "bob"} and {line.tier for line in said} == {"scripted"}
    # the sixth kind word makes Tam friendly towards Ann; the insult makes him wary of Bob
    changes = {(c.player_id, c.standing) for c in frames.of(NpcRelationshipChanged)}
    assert changes == {("ann", "friendly"), ("bob", "wary")}
    state = await ask(bus, world, NpcGetState(npc_id="tam"))
    assert state.relationships == {"ann": 0.3, "bob": -0.2}
    assert any("bridge 5" in entry for entry in state.memory) and len(state.memory) == 7

    # the same seed says the same lines to the same words, in another world
    again = await record(bus, f"lw.{world}x.npc.said")
    await bus.emit(small_map(), f"{world}x", source="test")
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam", role="farmer", region="ford"), f"{world}x", source="test")
    await eventually(lambda: "tam" in npc.state.worlds.get(f"{world}x", NpcWorld()).npcs)
    for number in range(6):
        await bus.emit(PlayerSpoke(player_id="ann", npc_id="tam", text=f"Tell me about the bridge {number}"),
                       f"{world}x", source="test")
    await eventually(lambda: len(again.frames) == 6)
    assert [line.text for line in again.of(NpcSaid)] == [line.text for line in said if line.to_player == "ann"]


class EchoModel:
    """A stand-in model writer: answers in a recognisable way, or fails when told to."""

    def __init__(self) -> None:
        self.tiers: list[str] = []
        self.fail = False

    async def line(self, request: DialogueRequest) -> DialogueLine:
        self.tiers.append(request.tier)
        if self.fail:
            raise RuntimeError("model unavailable")
        return DialogueLine(f"[{request.tier}] {request.npc_name} ponders \"{request.player_text}\"", request.tier, 12.5)


async def test_model_writer_plugs_in_and_degrades_to_the_script(bus, start_node, world, frames) -> None:
    model = EchoModel()
    npc = Npc(seed=1, writer=FallbackDialogue(model, ScriptedDialogue(1), timeout_s=1.0))
    await start_node(npc)
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam", region="ford"), world, source="test")
    await eventually(lambda: "tam" in npc.state.worlds.get(world, NpcWorld()).npcs)

    async def say(text: str) -> NpcSaid:
        count = len(frames.of(NpcSaid))
        await bus.emit(PlayerSpoke(player_id="ann", npc_id="tam", text=text), world, source="test")
        await eventually(lambda: len(frames.of(NpcSaid)) == count + 1)
        return frames.of(NpcSaid)[-1]

    line = await say("hello")
    assert line.tier == "large" and line.text.startswith("[large] Tam ponders")
    await eventually(lambda: len(frames.of(QosSample)) == 1)
    assert frames.of(QosSample)[0].latency_ms == 12.5

    await bus.emit(QosLevelChanged(level="reduced", previous="full", reason="test", p95_ms=2000, queue_depth=0),
                   world, source="test")
    await eventually(lambda: npc.state.worlds[world].qos == "reduced")
    assert (await say("again")).tier == "small"

    model.fail = True
    failed = await say("are you there?")
    assert failed.tier == "scripted" and not failed.text.startswith("[")

    await bus.emit(QosLevelChanged(level="scripted", previous="reduced", reason="test", p95_ms=5000, queue_depth=0),
                   world, source="test")
    await eventually(lambda: npc.state.worlds[world].qos == "scripted")
    calls = len(model.tiers)
    assert (await say("and now?")).tier == "scripted"
    assert len(model.tiers) == calls  # no model call at all in scripted mode


async def test_greetings_and_thanks(bus, start_node, world, frames) -> None:
    npc = Npc(seed=2)
    await start_node(npc)
    await bus.emit(small_map(), world, source="test")
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam", region="ford"), world, source="test")
    await bus.emit(SettingsChanged(version=1, changes={"npc_chatter": 1.0},
                                   settings=WorldSettings(npc_chatter=1.0)), world, source="test")
    await eventually(lambda: "tam" in npc.state.worlds.get(world, NpcWorld()).npcs
                     and npc.state.worlds[world].chatter == 1.0)
    await bus.emit(PlayerJoined(player_id="ann", region="ford"), world, source="test")
    await bus.emit(PlayerJoined(player_id="bob", region="mire"), world, source="test")
    await eventually(lambda: len(frames.of(NpcSaid)) == 1)
    await bus.emit(QuestCompleted(player_id="bob", quest_id="q1", giver="tam"), world, source="test")
    await eventually(lambda: len(frames.of(NpcSaid)) == 2)
    await settle(frames)
    greet, thanks = frames.of(NpcSaid)
    assert greet.to_player == "ann" and "ann" in greet.text
    assert thanks.to_player == "bob"
    assert (await ask(bus, world, NpcGetState(npc_id="tam"))).relationships["bob"] == 0.2
