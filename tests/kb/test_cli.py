"""``loreweave kb`` commands, run through the real entry point against the test database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from loreweave.cli.main import main
from loreweave.kb import ConceptChange, KnowledgeBase, define_concept, record_event


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, kb_dsn: str, kb: KnowledgeBase) -> None:
    monkeypatch.setenv("LOREWEAVE_DATABASE_URL", kb_dsn)
    monkeypatch.setenv("LOREWEAVE_LOG_LEVEL", "WARNING")


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
