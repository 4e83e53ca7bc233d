"""The NATS request/reply handlers and the prompt-context helper for actors."""

from __future__ import annotations

from datetime import UTC, datetime

import msgpack
import pytest

from loreweave.kb import KnowledgeBase, context_handler, prompt_context, record_event, remember, search_handler
from tests.kb.conftest import SAMPLE_WORLD


async def test_search_handler_replies_with_hits_that_survive_msgpack(sample_kb: KnowledgeBase) -> None:
    handler = search_handler(sample_kb)
    reply = await handler({"query": "Who is the present Grey Abbess?", "world": SAMPLE_WORLD, "k": 2})
    assert reply["ok"] is True and len(reply["hits"]) == 2
    top = reply["hits"][0]
    assert (top["source"], top["heading"]) == ("faith-of-the-drowned-mother.md", "The Grey Abbess")
    assert msgpack.unpackb(msgpack.packb(reply)) == reply


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        ({"query": ""}, "invalid", "query"),
        ({"world": SAMPLE_WORLD}, "invalid", "query"),
        ({"query": "bells", "k": "five"}, "invalid", "k"),
        ({"query": "bells", "k": True}, "invalid", "k"),
        ({"query": "bells", "limit": 3}, "invalid", "limit"),
        ({"query": "bells", "world": "atlantis"}, "unknown_world", "world"),
        (["not", "a", "map"], "invalid", "request"),
    ],
)
async def test_search_handler_turns_bad_requests_into_error_replies(
    sample_kb: KnowledgeBase, request_: object, code: str, field: str
) -> None:
    reply = await search_handler(sample_kb)(request_)  # type: ignore[arg-type]
    assert reply["ok"] is False
    assert (reply["error"]["code"], reply["error"]["field"]) == (code, field)
    assert reply["error"]["reason"]


async def test_prompt_context_gives_lore_memories_and_events(sample_kb: KnowledgeBase) -> None:
    npc = "npc-ferryman-" + datetime.now().strftime("%H%M%S%f")
    await remember(sample_kb, SAMPLE_WORLD, npc, "A hooded woman paid me in Osseni glass to row her to Hallowmere.",
                   importance=8)
    await remember(sample_kb, SAMPLE_WORLD, npc, "The eel prices fell again.", importance=2)
    await record_event(sample_kb, SAMPLE_WORLD, "narrative.beat", "Smoke was seen over Cindermouth.",
                       story_date="1042 YR, 2 Wane", occurred_at=datetime(2099, 1, 1, tzinfo=UTC))
    context = await prompt_context(
        sample_kb, SAMPLE_WORLD, "Who stole the Lantern of Saint Irri?", owner=npc, lore_k=2, memory_k=1, events_k=1
    )
    assert [hit.heading for hit in context.lore] == ["The Lantern of Saint Irri"] * 2
    assert [m.memory.text for m in context.memories] == [
        "A hooded woman paid me in Osseni glass to row her to Hallowmere."
    ]
    assert [e.summary for e in context.events] == ["Smoke was seen over Cindermouth."]
    text = context.render(max_snippet_chars=80)
    assert "[Artifacts and Relics of the Reach > The Lantern of Saint Irri]" in text
    assert "Memories:\n- A hooded woman paid me" in text and "1042 YR, 2 Wane: Smoke" in text
    assert all(len(line) <= 80 + 80 for line in text.splitlines())


async def test_context_handler_answers_and_refuses(sample_kb: KnowledgeBase) -> None:
    handler = context_handler(sample_kb)
    reply = await handler({"world": SAMPLE_WORLD, "query": "Who is the Lord Commander called the Iron Heron?", "lore_k": 1})
    assert reply["ok"] and reply["context"]["lore"][0]["heading"] == "The Lord Commander"
    assert "Lore:" in reply["context"]["text"]
    refused = await handler({"world": "atlantis", "query": "x"})
    assert refused["error"]["code"] == "unknown_world"
