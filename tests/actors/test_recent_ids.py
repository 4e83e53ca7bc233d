"""RecentIds remembers at least the last ``size`` ids handled, and forgets older ones."""

from __future__ import annotations

from loreweave.actors.runtime import RecentIds


def test_remembers_the_last_size_ids_and_forgets_older_ones() -> None:
    recent = RecentIds(size=4)
    for number in range(11):
        recent.add(f"id{number}")
        assert all(f"id{seen}" in recent for seen in range(max(0, number - 3), number + 1))
    assert "id0" not in recent and "id1" not in recent
    assert "never" not in recent
