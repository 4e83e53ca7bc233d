"""The knowledge base's request/reply API through the real bus."""

import pytest

from loreweave.actors.lore import Lore
from loreweave.actors.runtime import RequestError, frame_for
from loreweave.schemas.kb import LoreContextRequest, LoreSearch

from .conftest import SAMPLE_WORLD


async def test_search_over_the_bus_returns_chunks_with_sources(bus, start_node, sample_kb) -> None:
    await start_node(Lore(sample_kb))
    question = frame_for(LoreSearch(query="Who rules Thornwake?", k=3), SAMPLE_WORLD, "test")
    answer = await bus.request(question, timeout=30)
    hits = answer.payload.hits
    assert 1 <= len(hits) <= 3
    assert all("source" in str(hit) or "document" in str(hit) for hit in hits)
    assert answer.causation_id == question.id


async def test_bad_search_gets_a_typed_error_reply(bus, start_node, sample_kb) -> None:
    await start_node(Lore(sample_kb))
    with pytest.raises(RequestError) as raised:
        await bus.request(frame_for(LoreSearch(query="dragons"), "no-such-world", "test"), timeout=30)
    assert raised.value.code == "bad_request"
    assert raised.value.field == "world"


async def test_prompt_context_over_the_bus(bus, start_node, sample_kb) -> None:
    await start_node(Lore(sample_kb))
    request = frame_for(LoreContextRequest(query="the old religion", memory_k=0, events_k=0), SAMPLE_WORLD, "t")
    answer = await bus.request(request, timeout=30)
    assert answer.payload.context
