"""The console's pages and stream over HTTP, without a browser or a bus: journal rows in a real
PostgreSQL, live items handed to the feed, the server on a free port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from loreweave.console import ConsoleServer, ConsoleState, LiveFeed, classify
from loreweave.db import JournalEntry
from loreweave.protocol.ids import frame_id_millis, new_frame_id


@pytest.fixture
async def console(database, world) -> AsyncIterator[ConsoleServer]:
    server = ConsoleServer(ConsoleState(world=world, database=database, feed=LiveFeed(world)), port=0)
    await server.start()
    yield server
    await server.stop()


def entry(world: str, kind: str, payload: dict, *, correlation: str = "", cause: str | None = None,
          at: datetime | None = None) -> JournalEntry:
    frame_id = new_frame_id()
    return JournalEntry(frame_id, world, kind, at or datetime.now(timezone.utc), "test", correlation or frame_id,
                        cause, payload)


def live(kind: str, correlation: str, cause: str | None, **payload: object):
    frame_id = new_frame_id()
    return classify(frame_id, frame_id_millis(frame_id) * 1000, kind, payload, correlation_id=correlation,
                    causation_id=cause, source="test")


async def test_the_story_page_shows_journal_rows_and_live_items_but_not_ambience(console, database, world) -> None:
    await database.journal.append_many([
        entry(world, "narrative.beat", {"text": "The bells of Harrow toll."}),
        entry(world, "narrative.ambience", {"region": "harrow", "text": "Rain on the roofs.", "trigger": "weather"}),
    ])
    console.state.feed.add(live("npc.said", "x" * 26, None, npc_id="mira", text="Mind the bells.", tier="small"))
    async with httpx.AsyncClient(base_url=console.url) as client:
        page = (await client.get("/story")).text
    assert "The bells of Harrow toll." in page and "Mind the bells." in page and "small" in page
    assert "Rain on the roofs." not in page


async def test_the_stream_pushes_a_new_item_within_a_second(console, world) -> None:
    async with httpx.AsyncClient(base_url=console.url, timeout=10) as client:
        async with client.stream("GET", "/api/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            started = time.perf_counter()
            console.state.feed.add(live("narrative.beat", "y" * 26, None, text="A crow lands on the well."))

            async def story() -> str:
                async for line in lines:
                    if line.startswith("data:") and "A crow lands" in line:
                        return line
                return ""

            assert "A crow lands" in await asyncio.wait_for(story(), 5)
            assert time.perf_counter() - started < 1.0


async def test_why_shows_the_unjournaled_player_frame_and_what_followed(console, database, world) -> None:
    spoke = new_frame_id()  # the player's frame: never journaled
    said = entry(world, "npc.said", {"npc_id": "mira", "text": "Mind the bells.", "to_player": "p1"},
                 correlation=spoke, cause=spoke)
    await database.journal.append_many([said])
    localized = live("language.localized", spoke, said.frame_id, text="Attention aux cloches.")
    console.state.feed.add(localized)
    async with httpx.AsyncClient(base_url=console.url) as client:
        fragment = (await client.get(f"/why/{said.frame_id}", params={"fragment": "1"})).text
        missing = await client.get(f"/why/{new_frame_id()}")
    assert spoke in fragment and "game-server frame" in fragment and "player p1" in fragment
    assert "Attention aux cloches." in fragment and "<html" not in fragment
    assert missing.status_code == 404 and "No event" in missing.text


async def test_scroll_back_reads_older_rows_and_refuses_a_bad_cursor(console, database, world) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    await database.journal.append_many(
        [entry(world, "narrative.beat", {"text": f"beat {n}"}, at=start + timedelta(seconds=n)) for n in range(30)])
    before = int((start + timedelta(seconds=10)).timestamp() * 1_000_000)
    async with httpx.AsyncClient(base_url=console.url) as client:
        older = (await client.get("/api/story", params={"before_us": before, "limit": 5})).json()["items"]
        bad = await client.get("/api/story", params={"before_us": "soon"})
    assert [item["text"] for item in older] == [f"beat {n}" for n in range(5, 10)]
    assert bad.status_code == 400 and "before_us" in bad.json()["error"]["field"]


async def test_a_taken_port_is_one_clear_error_and_the_process_lives_on(console, database, world) -> None:
    from loreweave.protocol.errors import ConfigError

    second = ConsoleServer(ConsoleState(world=world, database=database, feed=LiveFeed(world)), port=console.port)
    with pytest.raises(ConfigError, match="port"):
        await second.start()
    async with httpx.AsyncClient(base_url=console.url) as client:
        assert (await client.get("/story")).status_code == 200


async def test_markup_in_a_line_is_shown_as_text_and_nothing_foreign_may_run(console, database, world) -> None:
    evil = '<img src=x onerror="alert(1)">'
    said = entry(world, "npc.said", {"npc_id": "mira", "text": evil})
    await database.journal.append_many([said])
    async with httpx.AsyncClient(base_url=console.url) as client:
        page = await client.get("/story")
        fragment = await client.get(f"/why/{said.frame_id}", params={"fragment": "1"})
    for response in (page, fragment):
        assert evil not in response.text and "&lt;img src=x" in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
