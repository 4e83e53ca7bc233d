"""A world for the console's browser tests: its own embedded nats-server (with roles), every actor
on a node with a database, the simulator playing, lore and memories in the knowledge base, the
console serving on a free port, and Debian's Chromium driven by Playwright.

Screenshots go to ``tests/console/artifacts/`` (git-ignored), kept after the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loreweave.actors.runtime import ActorNode, Bus
from loreweave.config import load_settings
from loreweave.db import Database
from loreweave.embedded import EmbeddedNats

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("LOREWEAVE_CHROMIUM", "/usr/bin/chromium"))
LORE_FILE = ROOT / "examples" / "worlds" / "thornwake" / "lantern-guild.md"
CONCEPTS_FILE = ROOT / "examples" / "worlds" / "thornwake" / "concepts.yaml"
MEMORY_NPC = "hesper-quill"
MEMORIES = (
    ("Odessa Vane's Snuffers pulled a debtor from the Lampwick canal", 9.0),
    ("A traveller asked about eels at the market", 2.0),
    ("The Tidewarden owes the Lantern Guild four thousand bell-marks", 7.0),
)
REFLECTION = "The Lantern Guild holds the Tidewarden by his debts"


@dataclass
class ConsoleWorld:
    """The world the console follows and what the tests reach it with."""

    world: str
    url: str
    database: Database
    actor_bus: Bus
    game_bus: Bus
    kb: Any
    simulator: asyncio.Task[Any]


@pytest.fixture(scope="module")
async def console_world(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> AsyncIterator[ConsoleWorld]:
    """Everything a designer's console needs, with the simulator playing the world."""
    from loreweave.actors.catalog import build_actors
    from loreweave.actors.payments import LocalTestProvider
    from loreweave.console import knowledge_base_on, start_console
    from loreweave.kb import ingest_path, remember, seed_concepts
    from loreweave.simulate import simulate
    from loreweave.testing import fresh_database

    world = "console-" + uuid.uuid4().hex[:8]
    nats = EmbeddedNats(tmp_path_factory.mktemp("console-nats"))
    await nats.start()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(nats.stop)
        dsn = await stack.enter_async_context(fresh_database(pg_server, "lw_console_", vector=True))
        database = await Database.open(dsn, max_size=8)
        stack.push_async_callback(database.close)
        kb = knowledge_base_on(database, warm=False)
        await kb.embedder.warm_up()
        await ingest_path(kb, LORE_FILE, world=world)
        await seed_concepts(kb, CONCEPTS_FILE, world=world)
        remembered = [await remember(kb, world, MEMORY_NPC, text, importance=importance)
                      for text, importance in MEMORIES]
        await remember(kb, world, MEMORY_NPC, REFLECTION, importance=8.0, kind="reflection",
                       evidence=[remembered[0].id, remembered[2].id])

        actor_bus = await Bus.connect(nats.client_url("actor-node"), name="console-test-node")
        stack.push_async_callback(actor_bus.close)
        actors = build_actors(["all"], seed=7, heartbeat_s=1.0, options={
            "payments": {"provider": LocalTestProvider()}, "clock": {"tick_minutes": 10}})
        node = ActorNode.from_settings(actor_bus, actors, load_settings(), database=database)
        await node.start()
        stack.push_async_callback(node.stop)

        designer_bus = await Bus.connect(nats.client_url("designer"), name="console-test-designer")
        stack.push_async_callback(designer_bus.close)
        ops_bus = await Bus.connect(nats.client_url("ops"), name="console-test-ops")
        stack.push_async_callback(ops_bus.close)
        server = await start_console(world, designer_bus, database, kb=kb, ops_bus=ops_bus, port=0)
        stack.push_async_callback(server.stop)

        game_bus = await Bus.connect(nats.client_url("game-server"), name="console-test-game")
        stack.push_async_callback(game_bus.close)
        simulator = asyncio.create_task(simulate(
            nats.client_url("game-server"), players=3, minutes=30, seed=7, progress=False, world=world,
            clock_speed=60, think_s=0.7, close_world=False, dead_letters=False,
        ))

        async def stop_simulator() -> None:
            simulator.cancel()
            await asyncio.gather(simulator, return_exceptions=True)

        stack.push_async_callback(stop_simulator)
        yield ConsoleWorld(world, server.url, database, actor_bus, game_bus, kb, simulator)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (its own browsers are never downloaded)."""
    playwright_api = pytest.importorskip("playwright.async_api")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set LOREWEAVE_CHROMIUM)")
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh tab at 1280×800; the test fails if a script error or a refused resource shows in its console."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    yield tab
    await context.close()
    assert not errors, errors


def screenshot_path(name: str) -> Path:
    """Where a view's screenshot is kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
