"""``loreweave db migrate|status`` and ``loreweave history`` as a user runs them."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loreweave.cli.db import db_group, history_command
from loreweave.db import Journal, JournalEntry, connect, discover_migrations, migrate
from loreweave.protocol.ids import new_frame_id

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def invoke(command: object, args: list[str], dsn: str | None, data_dir: Path | None = None) -> Result:
    env = {"LOREWEAVE_DATABASE_URL": dsn, "LOREWEAVE_DATA_DIR": str(data_dir) if data_dir else None}
    return CliRunner().invoke(command, args, env=env)  # type: ignore[arg-type]


def test_migrate_then_status(fresh_dsn: str, needs_vector: None) -> None:
    first = invoke(db_group, ["migrate"], fresh_dsn)
    again = invoke(db_group, ["migrate"], fresh_dsn)
    status = invoke(db_group, ["status"], fresh_dsn)

    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [f"applied {m.filename}" for m in discover_migrations()]
    assert again.output == "database is up to date: nothing to apply\n"
    assert status.exit_code == 0
    assert re.search(r"^0004  event_journal\s+applied\s+\d{4}-\d\d-\d\d ", status.output, re.M)
    assert status.output.endswith(f"{len(discover_migrations())} migrations, 0 pending\n")


@pytest.mark.slow
def test_embedded_server_is_used_without_a_url(scratch: Path) -> None:
    first = invoke(db_group, ["migrate"], None, scratch)
    again = invoke(db_group, ["migrate"], None, scratch)

    assert first.exit_code == 0, first.output
    assert "applied 0004_event_journal.sql" in first.output
    assert again.output == "database is up to date: nothing to apply\n", "the data survived the restart"
    assert not (scratch / "postgres" / "postmaster.pid").exists(), "the server was stopped"


async def _seed(dsn: str) -> list[JournalEntry]:
    await migrate(dsn)
    rows = [
        JournalEntry(new_frame_id(), "w1", "player.spoke", T0, "game-server", payload={"text": "hello"}),
        JournalEntry(new_frame_id(), "w1", "npc.said", T0 + timedelta(seconds=1), "npc",
                     payload={"text": "x" * 300}),
        JournalEntry(new_frame_id(), "w1", "weather.changed", T0 + timedelta(seconds=2), "weather",
                     payload={"sky": "rain"}),
    ]
    conn = await connect(dsn)
    try:
        await Journal(conn).append_many(rows)
    finally:
        await conn.close()
    return rows


def test_history_prints_aligned_filtered_lines(fresh_dsn: str, needs_vector: None) -> None:
    rows = asyncio.run(_seed(fresh_dsn))

    everything = invoke(history_command, ["w1"], fresh_dsn)
    said = invoke(history_command, ["w1", "--type", "npc.said", "--type", "weather.changed"], fresh_dsn)
    window = invoke(history_command, ["w1", "--since", "2025-06-01T12:00:01", "--until", "2025-06-01T12:00:02Z"], fresh_dsn)
    latest = invoke(history_command, ["w1", "--limit", "1"], fresh_dsn)
    talk = invoke(history_command, ["w1", "--correlation", rows[0].frame_id], fresh_dsn)
    empty = invoke(history_command, ["w7"], fresh_dsn)

    lines = everything.output.splitlines()
    assert everything.exit_code == 0, everything.output
    assert lines[0].startswith("2025-06-01T12:00:00.000Z  player.spoke     game-server  ")
    assert [line.index(row.frame_id) for line, row in zip(lines, rows, strict=True)] == [lines[0].index(rows[0].frame_id)] * 3
    assert lines[1].endswith('"' + "x" * 300 + '"}'), "history shows whole payloads"
    assert "  correlation=" in lines[1], "history shows correlation ids (for --correlation)"
    assert [rows[1].frame_id in said.output, rows[2].frame_id in said.output, rows[0].frame_id in said.output] == [True, True, False]
    assert len(window.output.splitlines()) == 1 and rows[1].frame_id in window.output
    assert len(latest.output.splitlines()) == 1 and rows[2].frame_id in latest.output
    assert len(talk.output.splitlines()) == 1 and rows[0].frame_id in talk.output
    assert empty.output == "no journaled frames in world 'w7' match\n"


def test_bad_input_is_one_line_and_exit_code_2(fresh_dsn: str) -> None:
    cases = [
        (history_command, ["w1", "--since", "last tuesday"], fresh_dsn, "'last tuesday' is not an ISO 8601 time"),
        (history_command, ["w1", "--limit", "0"], fresh_dsn, "--limit"),
        (history_command, ["bad world"], fresh_dsn, "world"),
        (history_command, [], fresh_dsn, "Missing argument 'WORLD'"),
        (db_group, ["migrate"], "postgresql://u@127.0.0.1:1/db", "cannot connect to 127.0.0.1:1: connection refused"),
        (db_group, ["status"], "mysql://u@h/db", "is not a PostgreSQL URL"),
        (history_command, ["w1"], fresh_dsn, "run `loreweave db migrate` first"),
    ]
    for command, args, dsn, message in cases:
        result = invoke(command, args, dsn)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.output.splitlines()) == 1 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
