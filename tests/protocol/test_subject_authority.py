"""The subject a frame arrived on is authoritative over its envelope's world and type."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loreweave.protocol import (
    Frame,
    FrameError,
    check_frame_subject,
    decode_frame,
    encode_frame,
    event_subject,
    request_subject,
)
from loreweave.schemas import PlayerHeartbeat, PlayerMoved, registry

tokens = st.from_regex(r"\A[A-Za-z0-9_-]{1,12}\Z").filter(
    lambda token: token not in {"dlq", "rpc", "ai", "sys", "ops", "kb"}
)


@pytest.mark.parametrize(
    "subject", ["lw.w1.world.flag_set", "lw.rpc.w1.world.flag_set"]
)
def test_the_frames_own_event_and_request_subjects_pass(subject: str) -> None:
    check_frame_subject(subject, "w1", "world.flag_set")


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        ("lw.fz.world.flag_set", "world"),
        ("lw.victim.player.moved", "type"),
        ("lw.victim.world.flag_set.extra", "type"),
        ("lw.rpc.fz.world.flag_set", "world"),
        ("lw.rpc.victim.world.query", "type"),
    ],
)
def test_a_frame_naming_another_world_or_type_than_its_subject_is_refused(subject: str, field: str) -> None:
    with pytest.raises(FrameError) as raised:
        check_frame_subject(subject, "victim", "world.flag_set")
    assert (raised.value.field, raised.value.code) == (field, "subject_mismatch")
    assert subject in raised.value.reason


@pytest.mark.parametrize(
    "subject",
    ["_INBOX.abc.def", "lw.ai.generate", "lw.ai.tier.fast.generate", "lw.sys.ping", "lw.dlq.malformed", "game.w1.x.y"],
)
def test_subjects_other_than_event_and_request_subjects_carry_any_frame(subject: str) -> None:
    check_frame_subject(subject, "victim", "world.flag_set")


@given(tokens, tokens, tokens, tokens, tokens, tokens)
def test_only_the_frames_own_subjects_pass(
    world: str, domain: str, name: str, other_world: str, other_domain: str, other_name: str
) -> None:
    event_type = f"{domain}.{name}"
    check_frame_subject(event_subject(world, event_type), world, event_type)
    check_frame_subject(request_subject(world, event_type), world, event_type)
    other_type = f"{other_domain}.{other_name}"
    if (other_world, other_type) != (world, event_type):
        for subject in (event_subject(other_world, other_type), request_subject(other_world, other_type)):
            with pytest.raises(FrameError) as raised:
                check_frame_subject(subject, world, event_type)
            assert raised.value.code == "subject_mismatch"


def heartbeat_frame() -> bytes:
    event = PlayerHeartbeat.model_validate({"player_id": "p1"})
    return encode_frame(Frame(type=event.TYPE, world="w1", payload=event, source="game"))


def test_decode_refuses_a_frame_on_another_events_subject_before_validating_its_payload() -> None:
    data = heartbeat_frame()
    with pytest.raises(FrameError) as raised:
        decode_frame(data, schema=registry, subject=event_subject("w1", PlayerMoved.TYPE))
    assert (raised.value.field, raised.value.code) == ("type", "subject_mismatch")
    with pytest.raises(FrameError) as raised:
        decode_frame(data, schema=registry, subject=event_subject("victim", PlayerHeartbeat.TYPE))
    assert (raised.value.field, raised.value.code) == ("world", "subject_mismatch")


def test_decode_accepts_a_frame_on_its_own_subject_or_an_inbox() -> None:
    data = heartbeat_frame()
    for subject in (event_subject("w1", PlayerHeartbeat.TYPE), "_INBOX.x.y", None):
        assert decode_frame(data, schema=registry, subject=subject).world == "w1"
