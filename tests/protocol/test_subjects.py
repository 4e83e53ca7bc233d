import pytest
from hypothesis import given
from hypothesis import strategies as st

from loreweave.protocol import (
    SubjectError,
    check_pattern,
    check_publish_subject,
    dlq_subject,
    event_subject,
    parse_subject,
    pattern,
)

tokens = st.from_regex(r"\A[A-Za-z0-9_-]{1,12}\Z")


def test_event_subject_builds_and_parses_back() -> None:
    subject = event_subject("w1", "npc.said")
    assert subject == "lw.w1.npc.said"
    parsed = parse_subject(subject)
    assert (parsed.world, parsed.domain, parsed.event, parsed.event_type) == ("w1", "npc", "said", "npc.said")
    assert str(parsed) == subject


@pytest.mark.parametrize(
    ("world", "event_type", "field"),
    [
        ("", "npc.said", "world"),
        ("w 1", "npc.said", "world"),
        ("w*", "npc.said", "world"),
        ("w1", "npc", "event_type.event"),
        ("w1", ".said", "event_type.domain"),
        ("w1", "npc.>", "event_type.event"),
        ("dlq", "npc.said", "world"),
    ],
)
def test_bad_tokens_are_refused_with_the_field(world: str, event_type: str, field: str) -> None:
    with pytest.raises(SubjectError) as raised:
        event_subject(world, event_type)
    assert raised.value.field == field


@pytest.mark.parametrize("subject", ["lw.w1.npc", "xx.w1.npc.said", "lw.w1.npc.said.extra", "lw..npc.said", ""])
def test_parse_refuses_malformed_subjects(subject: str) -> None:
    with pytest.raises(SubjectError):
        parse_subject(subject)


def test_publish_subjects_refuse_wildcards_and_empty_parts() -> None:
    assert check_publish_subject("lw.w1.npc.said") == "lw.w1.npc.said"
    for bad in ("lw.*.npc.said", "lw.w1.>", "lw..x", "lw.w 1.x", ""):
        with pytest.raises(SubjectError):
            check_publish_subject(bad)


def test_patterns_for_subscribers() -> None:
    assert pattern("w1", "narrative", ">") == "lw.w1.narrative.>"
    assert pattern(domain="npc") == "lw.*.npc.*"
    assert pattern("w1", ">") == "lw.w1.>"
    assert check_pattern("lw.*.player.>") == "lw.*.player.>"
    with pytest.raises(SubjectError):
        pattern(">", "npc")
    with pytest.raises(SubjectError):
        check_pattern("lw.>.npc")


def test_dlq_subject() -> None:
    assert dlq_subject("malformed") == "lw.dlq.malformed"
    with pytest.raises(SubjectError):
        dlq_subject("bad reason")


@given(world=tokens, domain=tokens, name=tokens)
def test_any_valid_tokens_round_trip(world: str, domain: str, name: str) -> None:
    if world in {"dlq", "ai", "sys", "ops", "kb"}:
        return
    assert parse_subject(event_subject(world, f"{domain}.{name}")).event_type == f"{domain}.{name}"


@given(st.text(max_size=40))
def test_parse_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        parse_subject(text)
    except SubjectError:
        pass


def test_request_subjects_are_outside_the_journal() -> None:
    from loreweave.protocol import is_journaled, request_subject

    subject = request_subject("w1", "world.query")
    assert subject == "lw.rpc.w1.world.query"
    assert not is_journaled(subject)
    assert is_journaled("lw.w1.npc.said") and is_journaled("lw.*.narrative.>")
    assert not is_journaled("lw.dlq.malformed") and not is_journaled("lw.ai.generate")


@pytest.mark.parametrize(
    ("pattern_", "subject", "expected"),
    [
        ("lw.*.npc.said", "lw.w1.npc.said", True),
        ("lw.*.npc.said", "lw.w1.npc.moved", False),
        ("lw.w1.>", "lw.w1.npc.said", True),
        ("lw.w1.>", "lw.w1", False),
        ("lw.*.*", "lw.w1.npc.said", False),
        ("lw.w1.npc.said", "lw.w1.npc.said", True),
    ],
)
def test_subject_matches(pattern_: str, subject: str, expected: bool) -> None:
    from loreweave.protocol import subject_matches

    assert subject_matches(pattern_, subject) is expected
