"""NPC memories: importance rated or estimated, reflection, per-world weights, retrieval that varies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loreweave.kb import KnowledgeBase, KnowledgeBaseError, RecallWeights, recall, remember
from loreweave.kb.importance import AIImportance, estimate_importance, parse_rating
from loreweave.kb.memory import memory_settings, set_memory_settings
from loreweave.kb.observations import observe
from loreweave.kb.reflection import pending_importance

T0 = datetime(2042, 3, 1, 12, 0, tzinfo=UTC)

TOPICS: dict[str, list[str]] = {
    "family": [
        "My daughter Lise married the blacksmith's son last spring.",
        "My brother Tomas lost his leg in the mine collapse.",
        "Mother still sings the old hymns every evening by the hearth.",
        "Lise is expecting her first child at midwinter.",
    ],
    "bridge": [
        "The north bridge cracked after the spring flood.",
        "Travellers cross at the ford since the bridge was closed.",
        "The reeve promised stone to mend the bridge by autumn.",
        "A cart of barley fell into the river when the bridge rail gave way.",
    ],
    "harvest": [
        "The barley harvest was thin this year, half of last year's.",
        "Rats got into the granary and spoiled ten sacks of grain.",
        "I ground flour for the whole village before the fair.",
        "The wheat in the east field has rust blight.",
    ],
    "thief": [
        "Someone stole the silver candlesticks from the chapel.",
        "A stranger in a grey hood was seen near the chapel at midnight.",
        "The reeve suspects the tinker of the thefts.",
        "My own strongbox was forced open, but nothing was taken.",
    ],
    "weather": [
        "A storm tore the sails off my windmill.",
        "Hail flattened the beans in the kitchen garden.",
        "The river froze early this winter.",
        "Fog lay over the valley for three days.",
    ],
}
QUESTIONS: dict[str, list[str]] = {
    "family": ["How is your family?", "Tell me about your daughter.", "Is anyone in your family hurt?",
               "Any news of grandchildren?", "Does your mother still live with you?", "Who did your daughter marry?",
               "How is your brother doing?", "Do you have kin here?"],
    "bridge": ["What happened to the bridge?", "How do I cross the river?", "When will the bridge be fixed?",
               "Was anything lost at the river crossing?", "Is the north road passable?", "Did the flood do damage?",
               "Why is the ford so busy?", "Who is repairing the crossing?"],
    "harvest": ["How was the harvest?", "Is there enough grain?", "What is wrong with the wheat?",
                "Have pests been a problem?", "Did you mill much flour?", "Will there be bread this winter?",
                "How are the fields?", "How was the barley this year?"],
    "thief": ["Have there been any thefts?", "Who is the thief?", "What was stolen from the chapel?",
              "Have you seen any strangers?", "Was your house broken into?", "Does the reeve suspect anyone?",
              "Is the village safe at night?", "Anything stolen lately?"],
    "weather": ["How has the weather been?", "Did the storm damage anything?", "Was the winter cold?",
                "What happened to your garden?", "Has there been fog?", "Is your windmill working?",
                "Any hail this year?", "Was the river frozen?"],
}


async def _seed(kb: KnowledgeBase, world: str, owner: str) -> dict[int, str]:
    topic_of = {}
    for hour, (topic, texts) in enumerate(TOPICS.items()):
        for text in texts:
            memory = await observe(kb, world, owner, text, kind="heard", subject=topic, at=T0 - timedelta(hours=hour))
            topic_of[memory.memory.id] = topic
    # weighty memories off every topic: the kind that answered every question before
    await remember(kb, world, owner, "The old mill burned down and I rebuilt it with my own hands.", importance=9, at=T0)
    await remember(kb, world, owner, "I swore an oath to the baron never to leave this valley.", importance=8, at=T0)
    return topic_of


async def test_a_topic_cycling_conversation_recalls_many_distinct_relevant_memories(
    kb: KnowledgeBase, world: str
) -> None:
    topic_of = await _seed(kb, world, "npc-mara")
    relevant: set[int] = set()
    on_topic = total = 0
    for turn in range(40):
        topic = list(QUESTIONS)[turn % 5]
        question = QUESTIONS[topic][turn // 5]
        found = await recall(kb, world, "npc-mara", question, k=3, now=T0 + timedelta(minutes=2 * turn))
        for item in found:
            total += 1
            if topic_of.get(item.memory.id) == topic:
                on_topic += 1
                relevant.add(item.memory.id)
    print(f"distinct relevant memories: {len(relevant)}, on topic: {on_topic / total:.2f}")
    assert len(relevant) >= 10, len(relevant)
    assert on_topic / total >= 0.6, on_topic / total


async def test_near_identical_memories_are_recalled_once(kb: KnowledgeBase, world: str) -> None:
    for minute in range(4):  # a player asking the same thing again and again
        await remember(kb, world, "npc-rep", 'ann said "Tell me about the bridge"', at=T0 + timedelta(minutes=minute))
    await remember(kb, world, "npc-rep", "The bridge toll went up to two coppers.", at=T0)
    found = await recall(kb, world, "npc-rep", "the bridge", k=3, now=T0, touch=False)
    assert sum("Tell me about the bridge" in item.memory.text for item in found) == 1
    assert any("toll" in item.memory.text for item in found)


async def test_weights_are_set_per_world(kb: KnowledgeBase, world: str) -> None:
    other = world + "-b"
    for scope in (world, other):
        await remember(kb, scope, "npc-w", "I had porridge for breakfast.", importance=1, at=T0)
        await remember(kb, scope, "npc-w", "The baron's son drowned in the millpond.", importance=10, at=T0)
    await set_memory_settings(kb, other, weights=RecallWeights(recency=0, importance=5, relevance=0.1))
    assert (await memory_settings(kb, world)).weights == RecallWeights()
    query = "what did you eat for breakfast"
    assert "porridge" in (await recall(kb, world, "npc-w", query, k=1, now=T0, touch=False))[0].memory.text
    assert "drowned" in (await recall(kb, other, "npc-w", query, k=1, now=T0, touch=False))[0].memory.text
    with pytest.raises(KnowledgeBaseError) as caught:
        await set_memory_settings(kb, world, reflect_threshold=0)
    assert caught.value.field == "reflect_threshold"
    with pytest.raises(KnowledgeBaseError) as caught:
        RecallWeights(relevance=-1)
    assert caught.value.field == "relevance"


async def test_reflection_writes_higher_level_memories_once_importance_adds_up(kb: KnowledgeBase, world: str) -> None:
    await set_memory_settings(kb, world, reflect_threshold=15)
    outcomes = []
    for text in ("ann asked about the north road", "ann paid for bread in silver", "ann said the baron is a liar",
                 "bob asked about the ford", "ann saved my cat from the flood"):
        outcomes.append(await observe(kb, world, "npc-ref", text, kind="heard", subject=text.split()[0], at=T0))
    reflections = [memory for outcome in outcomes for memory in outcome.reflections]
    assert reflections, [o.memory.importance for o in outcomes]
    first = reflections[0]
    assert first.kind == "reflection" and first.subject == "ann" and len(first.evidence) >= 2
    assert first.importance > max(o.memory.importance for o in outcomes if o.memory.id in first.evidence) - 1e-9
    assert await pending_importance(kb, world, "npc-ref") == 0
    found = await recall(kb, world, "npc-ref", "What do you think of ann?", k=3, now=T0, touch=False)
    assert any(item.memory.kind == "reflection" for item in found)


class StubClient:
    """Answers like the AI layer would, or fails."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer

    async def generate(self, world: str, request: object, *, timeout: float | None = None) -> object:
        if self.answer is None:
            raise TimeoutError("no tier answered")
        return type("Result", (), {"text": self.answer})()


async def test_importance_is_rated_by_the_ai_tier_when_it_answers_and_estimated_otherwise(
    kb: KnowledgeBase, world: str
) -> None:
    rated = await observe(kb, world, "npc-imp", "ann gave me a ring", rater=AIImportance(StubClient("Rating: 7")))
    assert (rated.rated_by, rated.memory.importance) == ("ai", 7.0)
    silent = AIImportance(StubClient(None))
    scripted = await observe(kb, world, "npc-imp", "The baker died in the fire", kind="world", rater=silent)
    assert scripted.rated_by == "script" and silent.failures == 1
    assert scripted.memory.importance == estimate_importance("world", "The baker died in the fire")
    assert estimate_importance("world", "The baker died in the fire") > estimate_importance("met", "Hello there")
    assert parse_rating("I'd say 11/10") is None or parse_rating("I'd say 11/10") <= 10
    assert parse_rating("no idea") is None
