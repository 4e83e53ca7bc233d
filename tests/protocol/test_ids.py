import time

from loreweave.protocol import derived_frame_id, frame_id_millis, is_frame_id, new_frame_id


def test_ids_are_unique_and_sort_by_creation() -> None:
    ids = [new_frame_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(is_frame_id(frame_id) for frame_id in ids)


def test_id_carries_its_millisecond_time() -> None:
    before = time.time_ns() // 1_000_000
    frame_id = new_frame_id()
    assert before <= frame_id_millis(frame_id) <= before + 1000


def test_derived_ids_are_deterministic_distinct_and_keep_the_parent_time() -> None:
    parent = new_frame_id()
    first, again, second = derived_frame_id(parent, 0), derived_frame_id(parent, 0), derived_frame_id(parent, 1)
    assert first == again != second
    assert first != parent
    assert frame_id_millis(first) == frame_id_millis(parent)


def test_is_frame_id_refuses_lookalikes() -> None:
    assert not is_frame_id("0" * 25)
    assert not is_frame_id("U" * 26)  # U is not in Crockford's alphabet
    assert not is_frame_id("8" + "0" * 25)  # would overflow 128 bits
    assert not is_frame_id(12345)


def test_derived_ids_differ_by_who_emits_and_stay_deterministic() -> None:
    parent = new_frame_id()
    ids = {derived_frame_id(parent, index, scope) for scope in ("npc.said", "npc.moved", "journal.record")
           for index in range(3)}
    assert len(ids) == 9 and all(is_frame_id(i) for i in ids)
    assert derived_frame_id(parent, 1, "npc.said") == derived_frame_id(parent, 1, "npc.said")
    assert all(frame_id_millis(i) == frame_id_millis(parent) for i in ids)
