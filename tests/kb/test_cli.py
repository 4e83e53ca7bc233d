"""``loreweave kb`` commands, run through the real entry point against the test database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from loreweave.actors.lore import Lore
from loreweave.cli.kb import run_concept, run_memories, run_search
from loreweave.cli.main import main
from loreweave.config import load_settings
from loreweave.kb import ConceptChange, KnowledgeBase, define_concept, ingest_path, record_event, remember


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, kb_dsn: str, kb: KnowledgeBase, tmp_path: Path) -> None:
    monkeypatch.setenv("LOREWEAVE_DATABASE_URL", kb_dsn)
    monkeypatch.setenv("LOREWEAVE_LOG_LEVEL", "WARNING")
    # no world runs: no recorded bus (another process's `loreweave up` must not answer)
    monkeypatch.setenv("LOREWEAVE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOREWEAVE_NATS_URL", raising=False)


def test_ingest_then_search_then_reingest(
    cli_env: None, world: str, lore_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["kb", "ingest", str(lore_dir), "--world", world], capsys)
    assert code == 0 and f"world {world}: 3 added, 0 updated, 0 unchanged, 4 chunks written" in out
    code, out, _ = run(["kb", "search", "Who keeps the Sleeping Ox?", "--world", world, "-k", "1"], capsys)
    assert code == 0 and out.startswith("1. [") and "tavern.md › The Sleeping Ox" in out and "Brenna Coil" in out
    code, out, _ = run(["kb", "ingest", str(lore_dir), "--world", world], capsys)
    assert "0 added, 0 updated, 3 unchanged, 0 chunks written" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["kb", "search", "  "], "error: query: is empty"),
        (["kb", "search", "bells", "--world", "atlantis"], "error: world: unknown world 'atlantis'"),
        (["kb", "ingest", "/no/such/lore"], "error: path: /no/such/lore does not exist"),
        (["kb", "concept", "Nobody At All"], "error: name: no concept named 'Nobody At All'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(
    cli_env: None, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2 and err.strip().splitlines()[-1].startswith(message) and "Traceback" not in err


def test_a_binary_file_is_refused_by_name(cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "scroll.md").write_bytes(b"\x00\xff\x00\xff")
    code, _, err = run(["kb", "ingest", str(tmp_path / "scroll.md")], capsys)
    assert code == 2 and "scroll.md is a binary file" in err


async def test_concept_shows_each_version_and_its_event(
    cli_env: None, kb: KnowledgeBase, world: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await define_concept(kb, "Ser Hadrian Quell", "character", "Lord Commander of the Drowned Bell.", world=world)
    await record_event(kb, world, "npc.died", "Quell fell defending the Bellward.", story_date="1042 YR, 9 Wane",
                       changes=[ConceptChange("Ser Hadrian Quell", "Died defending the Bellward.", {"alive": False})])
    code, out, _ = await asyncio.to_thread(run, ["kb", "concept", "Ser Hadrian Quell", "--world", world], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"Ser Hadrian Quell (character, {world})"
    assert lines[1].startswith("v1 ") and lines[1].endswith("defined")
    assert lines[3].startswith("v2 ") and "npc.died — 1042 YR, 9 Wane: Quell fell defending the Bellward." in lines[3]
    assert lines[5].strip() == "alive=False"
    # --as-of takes the world's own calendar, as its events name it
    code, out, _ = await asyncio.to_thread(
        run, ["kb", "concept", "Ser Hadrian Quell", "--world", world, "--as-of", "1042 yr,  9 wane"], capsys
    )
    assert code == 0 and out.splitlines()[1].startswith("v2 ")
    code, _, err = await asyncio.to_thread(
        run, ["kb", "concept", "Ser Hadrian Quell", "--world", world, "--as-of", "1043 YR"], capsys
    )
    assert code == 2 and "error: as_of: no event that changed 'Ser Hadrian Quell' happened on '1043 YR'" in err
    assert "(story dates: 1042 YR, 9 Wane)" in err
    code, out, _ = await asyncio.to_thread(
        run, ["kb", "concept", "Ser Hadrian Quell", "--world", world, "--as-of", "2999-01-01"], capsys
    )
    assert code == 0 and out.splitlines()[1].startswith("v2 ")


CONCEPTS = """
concepts:
  - {name: Yrsa Vane, kind: character, summary: High Jarl of the Fells., attributes: {title: High Jarl}}
events:
  - kind: npc.deposed
    summary: The moot cast Yrsa Vane out of the Jarl's hall.
    journal_id: yrsa-deposed
    changes:
      - {name: Yrsa Vane, summary: Deposed; lives in exile on the coast., attributes: {title: null}}
"""


def test_ingest_defines_the_folders_concepts_or_says_why_not(
    cli_env: None, world: str, lore_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (lore_dir / "concepts.yaml").write_text(CONCEPTS, encoding="utf-8")
    code, _, err = run(["kb", "ingest", str(lore_dir)], capsys)
    assert code == 2 and "error: world:" in err and "concepts.yaml defines concepts of a world" in err
    code, out, _ = run(["kb", "ingest", str(lore_dir), "--world", world], capsys)
    assert code == 0 and "3 added" in out and "concepts.yaml: 1 concepts defined or kept, 1 events recorded" in out
    code, out, _ = run(["kb", "concept", "Yrsa Vane", "--world", world], capsys)
    assert code == 0 and "v2 " in out and "Deposed; lives in exile" in out
    code, out, _ = run(["kb", "ingest", str(lore_dir / "concepts.yaml"), "--world", world], capsys)
    assert code == 0 and out.startswith("concepts.yaml: 1 concepts")


@pytest.fixture
async def running_world(
    monkeypatch: pytest.MonkeyPatch, cli_env: None, nats_server_url: str, start_node: Any, kb: KnowledgeBase,
) -> None:
    """A world running (its bus recorded in LOREWEAVE_NATS_URL, its lore actor up) and a database
    this process cannot reach: an answer can only come from the lore actor."""
    await start_node(Lore(kb))
    monkeypatch.setenv("LOREWEAVE_NATS_URL", nats_server_url)
    monkeypatch.setenv("LOREWEAVE_DATABASE_URL", "postgresql://nobody:wrong@127.0.0.1:1/none")


async def test_search_concept_and_memories_ask_the_running_lore_actor(
    running_world: None, kb: KnowledgeBase, world: str, lore_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await ingest_path(kb, lore_dir, world=world)
    await define_concept(kb, "Brenna Coil", "character", "Keeps the Sleeping Ox.", world=world)
    await remember(kb, world, "npc-brenna", "ann paid for her stew in Karsk silver.", kind="heard", subject="ann")
    await remember(kb, world, "npc-brenna", "A storm blew the tavern sign away.", kind="weather")
    settings = load_settings()
    started = time.perf_counter()
    hits = await run_search(settings, "Who keeps the Sleeping Ox?", world=world, k=1, method="hybrid")
    elapsed = time.perf_counter() - started
    assert hits[0].source == "tavern.md" and hits[0].heading_path == ("The Sleeping Ox",)
    assert elapsed < 1.0, elapsed  # the model is loaded in the lore actor's process already
    history = await run_concept(settings, "Brenna Coil", world=world)
    assert history.current.summary == "Keeps the Sleeping Ox."
    memories = await run_memories(settings, "npc-brenna", world=world, query="Who paid in silver?", k=1)
    assert memories[0]["memory"]["subject"] == "ann" and "score" in memories[0]
    code, out, _ = await asyncio.to_thread(run, ["kb", "memories", "npc-brenna", "--world", world], capsys)
    assert code == 0 and out.splitlines()[0].startswith("1. [weather, importance 5] A storm blew")
    code, _, err = await asyncio.to_thread(run, ["kb", "concept", "Nobody At All", "--world", world], capsys)
    assert code == 2 and "error: name: no concept named 'Nobody At All'" in err
