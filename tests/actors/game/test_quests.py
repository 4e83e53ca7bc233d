"""Quests: definition files with clear errors, and the state machine driven through the bus."""

from __future__ import annotations

from pathlib import Path

import pytest

from loreweave.actors.catalog import default_quests_dir
from loreweave.actors.quests import QuestDefinition, Quests, load_quest_files, load_quests
from loreweave.actors.runtime import RequestError
from loreweave.db import quests as quest_rows
from loreweave.protocol import ConfigError
from loreweave.schemas import (
    ClockTick,
    Objective,
    PlayerCollected,
    PlayerDefeated,
    PlayerMoved,
    PlayerSpoke,
    QuestAbandon,
    QuestAccept,
    QuestAccepted,
    QuestAvailable,
    QuestCompleted,
    QuestFailed,
    QuestGetJournal,
    QuestProgressed,
    Rewards,
    WorldFlagSet,
)

from .conftest import ask, eventually, small_map
from .quest_worker import skip_history


def test_the_example_quests_load() -> None:
    directory = default_quests_dir()
    assert directory is not None
    quests = load_quests(directory)
    assert len(quests) >= 6
    assert quests["the-widows-lamp"].prerequisites == ["lantern-of-saint-irri"]


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("id: a\ntitle: A\nobjectives:\n  - {id: o, kind: visit, target: x, count: 0}\n",
         "objectives[0].count", "greater than or equal to 1"),
        ("id: a\ntitle: A\nobjectives:\n  - {id: o, kind: swim, target: x}\n", "objectives[0].kind", "'visit'"),
        ("id: a\ntitle: A\nreward: {xp: 1}\nobjectives:\n  - {id: o, kind: visit, target: x}\n",
         "reward", "is not a quest field"),
        ("id: a\ntitle: A\nobjectives: []\n", "objectives", "at least 1 item"),
        ("id: a\ntitle: A\nprerequisites: [ghost]\nobjectives:\n  - {id: o, kind: visit, target: x}\n",
         "prerequisites[0]", "unknown quest 'ghost'"),
        (("quests:\n  - id: a\n    title: A\n    objectives: [{id: o, kind: visit, target: x}]\n"
          "  - id: b\n    objectives: [{id: o, kind: visit, target: x}]\n"), "quests[1].title", "Field required"),
        ("id: a\ntitle: A\nobjectives:\n  - {id: o, kind: visit, target: x}\n  - {id: o, kind: talk, target: y}\n",
         "quest", "objectives[1].id: 'o' is used twice"),
        ("id: a\ntitle: [unclosed\n", "", "is not valid YAML"),
    ],
)
def test_bad_quest_files_name_the_file_and_field(tmp_path: Path, text: str, field: str, reason: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_quest_files([path])
    assert error.value.field == (f"{path}: {field}" if field else str(path))
    assert reason in error.value.reason


def test_duplicates_and_cycles_are_refused(tmp_path: Path) -> None:
    quest = "id: {id}\ntitle: T\nprerequisites: [{needs}]\nobjectives: [{{id: o, kind: visit, target: x}}]\n"
    (tmp_path / "a.yaml").write_text(quest.format(id="a", needs="b"))
    (tmp_path / "b.yaml").write_text(quest.format(id="b", needs="a"))
    with pytest.raises(ConfigError, match="form a cycle: a -> b -> a"):
        load_quests(tmp_path)
    (tmp_path / "b.yaml").write_text(quest.format(id="a", needs=""))
    with pytest.raises(ConfigError, match="already defined in") as error:
        load_quests(tmp_path)
    assert error.value.field.endswith("b.yaml: id")


DEFINITIONS = {
    "errand": QuestDefinition(
        id="errand", title="An Errand", giver="tam", region="ford",
        objectives=[
            Objective(id="go", kind="visit", target="mire"),
            Objective(id="ask", kind="talk", target="wren"),
            Objective(id="reeds", kind="collect", target="reed", count=3),
            Objective(id="drakes", kind="defeat", target="drake", count=2),
        ],
        rewards=Rewards(xp=10, gold=5, flags={"errand_done": True}),
    ),
    "sequel": QuestDefinition(id="sequel", title="Sequel", prerequisites=["errand"], time_limit_minutes=60,
                              objectives=[Objective(id="go", kind="visit", target="peaks")]),
}


async def test_a_quest_runs_from_acceptance_to_completion(database, bus, start_node, world, frames) -> None:
    await start_node(Quests(DEFINITIONS), database=database)
    await bus.emit(small_map(), world, source="test")
    await eventually(lambda: len(frames.of(QuestAvailable)) == 2)
    with pytest.raises(RequestError, match="needs errand completed first"):
        await ask(bus, world, QuestAccept(player_id="ann", quest_id="sequel"))
    with pytest.raises(RequestError, match="unknown quest"):
        await ask(bus, world, QuestAccept(player_id="ann", quest_id="nope"))
    status = await ask(bus, world, QuestAccept(player_id="ann", quest_id="errand"))
    assert status.quest.state == "active" and [o.id for o in status.quest.objectives] == ["go", "ask", "reeds", "drakes"]
    with pytest.raises(RequestError, match="already active"):
        await ask(bus, world, QuestAccept(player_id="ann", quest_id="errand"))
    for event in (
        PlayerMoved(player_id="ann", region="mire"),
        PlayerSpoke(player_id="ann", npc_id="wren", text="hi"),
        PlayerSpoke(player_id="bob", npc_id="wren", text="hi"),  # another player's talk does not count
        PlayerCollected(player_id="ann", item="reed", count=2),
        PlayerCollected(player_id="ann", item="stone", count=9),
        PlayerCollected(player_id="ann", item="reed", count=5),
        PlayerDefeated(player_id="ann", target="drake"),
        PlayerDefeated(player_id="ann", target="drake"),
    ):
        await bus.emit(event, world, source="test")
    await eventually(lambda: len(frames.of(QuestCompleted)) == 1)
    progress = [(p.objective, p.count) for p in frames.of(QuestProgressed)]  # kinds come through their own handlers
    assert sorted(progress) == [("ask", 1), ("drakes", 1), ("drakes", 2), ("go", 1), ("reeds", 2), ("reeds", 3)]
    done = frames.of(QuestCompleted)[0]
    assert (done.player_id, done.giver, done.rewards.xp) == ("ann", "tam", 10)
    await eventually(lambda: frames.of(WorldFlagSet) == [WorldFlagSet(flag="errand_done", value=True, by="ann")])
    with pytest.raises(RequestError, match="not repeatable"):
        await ask(bus, world, QuestAccept(player_id="ann", quest_id="errand"))
    journal = await ask(bus, world, QuestGetJournal(player_id="ann"))
    assert journal.available == ["sequel"] and [q.state for q in journal.quests] == ["completed"]
    assert (await ask(bus, world, QuestGetJournal(player_id="bob"))).available == ["errand"]


async def test_quests_fail_on_timeout_and_abandonment(database, bus, start_node, world, frames) -> None:
    definitions = {**DEFINITIONS, "errand": DEFINITIONS["errand"].model_copy(update={"repeatable": True})}
    quests = Quests(definitions)
    await start_node(quests, database=database)
    await bus.emit(ClockTick(tick=1, game_minutes=600), world, source="test")
    await eventually(lambda: world in quests.state.worlds and quests.state.worlds[world].game_minutes == 600)
    await ask(bus, world, QuestAccept(player_id="ann", quest_id="errand"))
    await ask(bus, world, QuestAbandon(player_id="ann", quest_id="errand"))
    await ask(bus, world, QuestAccept(player_id="ann", quest_id="errand"))  # repeatable: take it again
    for event in (PlayerMoved(player_id="ann", region="mire"), PlayerSpoke(player_id="ann", npc_id="wren", text="."),
                  PlayerCollected(player_id="ann", item="reed", count=3),
                  PlayerDefeated(player_id="ann", target="drake", count=2)):
        await bus.emit(event, world, source="test")
    await eventually(lambda: len(frames.of(QuestCompleted)) == 1)
    status = await ask(bus, world, QuestAccept(player_id="ann", quest_id="sequel"))
    assert status.quest.deadline == 600 + 60
    await bus.emit(ClockTick(tick=2, game_minutes=650), world, source="test")
    await bus.emit(ClockTick(tick=3, game_minutes=670), world, source="test")
    await bus.emit(ClockTick(tick=4, game_minutes=690), world, source="test")
    await eventually(lambda: len(frames.of(QuestFailed)) == 2)
    assert [(f.quest_id, f.reason) for f in frames.of(QuestFailed)] == [("errand", "abandoned"), ("sequel", "timeout")]
    assert len(frames.of(QuestAccepted)) == 3
    journal = await ask(bus, world, QuestGetJournal(player_id="ann"))
    assert {q.quest_id: (q.state, q.failure) for q in journal.quests} == {
        "errand": ("completed", None), "sequel": ("failed", "timeout")}
    with pytest.raises(RequestError, match="not active"):
        await ask(bus, world, QuestAbandon(player_id="ann", quest_id="sequel"))


async def test_a_batch_reads_each_players_quests_once_and_a_tick_inside_it_sees_its_progress(
    database, bus, start_node, world, frames
) -> None:
    timed = QuestDefinition(id="timed", title="Timed", time_limit_minutes=60,
                            objectives=[Objective(id="reeds", kind="collect", target="reed", count=3)])
    quests = Quests({"timed": timed, **DEFINITIONS})
    await skip_history(bus, database, quests)
    objectives = [o.model_dump(mode="json") for o in timed.objectives]
    for player in ("ann", "bob"):
        await quest_rows.save_quest(database.pool, quest_rows.QuestRow(
            world=world, player=player, quest_id="timed", state="active", objectives=objectives,
            progress={"reeds": 0}, accepted_at=600, deadline=660))
    # Stored before the actor starts, so its first batches hold several of them: progress, then
    # the tick that fails ann's quest (it must see her progress), then progress that must not count.
    for event in (PlayerCollected(player_id="ann", item="reed"), PlayerCollected(player_id="bob", item="reed"),
                  PlayerCollected(player_id="ann", item="reed"), ClockTick(tick=1, game_minutes=700),
                  PlayerCollected(player_id="ann", item="reed"), PlayerCollected(player_id="bob", item="reed")):
        await bus.emit(event, world, source="test", durable=True)
    await start_node(quests, database=database)
    await eventually(lambda: len(frames.of(QuestFailed)) == 2)
    assert sorted((f.player_id, f.reason) for f in frames.of(QuestFailed)) == [("ann", "timeout"), ("bob", "timeout")]
    assert sorted((p.player_id, p.count) for p in frames.of(QuestProgressed)) == [("ann", 1), ("ann", 2), ("bob", 1)]
    rows = {r.player: r for r in await quest_rows.player_quests(database.pool, world, "ann")}
    bob = await quest_rows.player_quests(database.pool, world, "bob")
    assert (rows["ann"].state, rows["ann"].progress) == ("failed", {"reeds": 2})
    assert (bob[0].state, bob[0].progress) == ("failed", {"reeds": 1})
