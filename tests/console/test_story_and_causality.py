"""The console's pure parts: frames become story items; a conversation becomes a causal tree."""

from __future__ import annotations

import pytest

from loreweave.console import ActorCounters, StoryFilter, build_tree, classify, percentile, reaction_ms
from loreweave.protocol.ids import frame_id_millis, new_frame_id


def test_an_npc_line_names_its_tier_its_fallback_and_its_region() -> None:
    item = classify("01" + "A" * 24, 1_700_000_000_000_000, "npc.said",
                    {"npc_id": "wren", "text": "Mind the reeds.", "to_player": "p1", "tier": "scripted",
                     "fallback": "fallback: TimeoutError"}, npc_regions={"wren": "mirewood"})
    assert (item.kind, item.npc, item.player, item.region) == ("npc", "wren", "p1", "mirewood")
    assert (item.tier, item.fallback, item.context) == ("scripted", "fallback: TimeoutError", False)


def test_ambience_is_context_and_quests_read_as_outcomes() -> None:
    ambience = classify("a", 1, "narrative.ambience", {"region": "mirewood", "text": "Fog.", "trigger": "weather"})
    assert ambience.context and ambience.label == "weather"
    done = classify("b", 1, "quest.completed", {"player_id": "p1", "quest_id": "eels", "giver": "wren"})
    assert (done.kind, done.label, done.npc) == ("quest", "completed", "wren")
    assert "eels completed" in done.text
    assert classify("c", 1, "quest.progressed", {"player_id": "p1", "quest_id": "eels"}).context


def test_filters_match_every_set_field() -> None:
    item = classify("a", 1, "npc.said", {"npc_id": "wren", "text": "hi", "to_player": "p1"})
    assert StoryFilter(npc="wren", player="p1").matches(item)
    assert not StoryFilter(npc="wren", kind="beat").matches(item)


def _frame(kind: str, correlation: str, cause: str | None, frame_id: str | None = None, **payload: object):
    frame_id = frame_id or new_frame_id()
    return classify(frame_id, frame_id_millis(frame_id) * 1000, kind, payload,
                    correlation_id=correlation, causation_id=cause)


def test_the_tree_of_an_npc_line_goes_back_to_the_unjournaled_player_frame_and_forward() -> None:
    spoke = new_frame_id()  # a game server's frame: never journaled
    said = _frame("npc.said", spoke, spoke, npc_id="wren", text="Mind the reeds.", to_player="p1")
    localized = _frame("language.localized", spoke, said.id, text="Attention aux roseaux.")
    sibling = _frame("narrative.beat", spoke, spoke, text="Wren speaks.")
    tree = build_tree([localized, said, sibling], said.id)
    assert tree.root.id == spoke and tree.root.missing and "player p1" in tree.root.note
    assert [node.id for node in tree.path()] == [spoke, said.id]
    assert tree.focus.children[0].id == localized.id  # forward: what it caused
    assert {child.id for child in tree.root.children} == {said.id, sibling.id}
    assert tree.size == 4 and tree.hidden == 0


def test_an_unseen_intermediate_frame_is_a_node_and_a_cycle_does_not_loop() -> None:
    start, weather = new_frame_id(), new_frame_id()
    ambience = _frame("narrative.ambience", start, weather, region="mirewood", text="Fog.")
    tree = build_tree([ambience], ambience.id)
    assert [n.id for n in tree.path()] == [start, weather, ambience.id]
    assert "intermediate" in tree.path()[1].note
    a, b = new_frame_id(), new_frame_id()
    looped = [_frame("narrative.beat", start, b, a), _frame("narrative.beat", start, a, b)]
    tree = build_tree(looped, a)
    assert tree.root.id == start and tree.focus.id == a


def test_unknown_focus_is_refused() -> None:
    with pytest.raises(KeyError):
        build_tree([], "nope")


def test_reaction_latency_comes_from_the_cause_id_and_percentiles_by_nearest_rank() -> None:
    cause = new_frame_id()
    assert reaction_ms(frame_id_millis(cause) * 1000 + 42_000, cause) == 42.0
    assert reaction_ms(5, None) is None
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0
    assert percentile([], 0.5) is None


def test_the_actors_handling_rate_is_the_growth_of_each_instances_heartbeat_count() -> None:
    counters = ActorCounters("w1", window_s=30)
    assert counters.handled_per_s() is None
    counters.record("npc-1", 100, 0, now=0.0)
    counters.record("npc-1", 150, 1, now=5.0)
    counters.record("clock-1", 10, 0, now=1.0)
    counters.record("clock-1", 20, 0, now=6.0)
    assert counters.handled_per_s() == 12.0 and counters.failed() == 1
    counters.record("npc-1", 400, 1, now=60.0)  # older samples leave the window
    assert len(counters.samples["npc-1"]) == 2


async def test_ambience_updates_the_context_strip_at_most_twice_a_second_and_is_not_a_row() -> None:
    from loreweave.console import LiveFeed

    feed = LiveFeed("w1")
    async with feed.listen() as queue:
        for n in range(50):
            feed.add(classify(f"a{n}", n, "narrative.ambience", {"region": "ford", "text": f"Rain {n}.",
                                                                 "trigger": "weather"}))
        events = [queue.get_nowait() for _ in range(queue.qsize())]
        assert [e for e, _, _ in events].count("context") == 1
        assert feed.context.regions["ford"].ambience == "Rain 49."
        feed.update_world({"ford": "rain"}, {"ford": "Harrow Ford"}, "06:10 dawn", {})
        latest = queue.get_nowait()
    assert latest[0] == "context" and latest[2]["regions"][0]["weather"] == "rain"
    assert latest[2]["regions"][0]["ambience"] == "Rain 49." and latest[2]["time_of_day"] == "06:10 dawn"
