"""The simulator's pre-encoded frames are the frames the codec would have encoded."""

from __future__ import annotations

import time

import pytest

from loreweave.protocol import Frame, decode_frame, encode_frame, is_frame_id
from loreweave.schemas import PlayerMoved, PlayerSpoke, registry
from loreweave.simulate.frames import FrameTemplate, FrameTemplates


def test_a_stamped_frame_decodes_to_the_event_with_its_own_id_and_time() -> None:
    event = PlayerSpoke(player_id="p0001", npc_id="wren", text="Any news from the river?")
    template = FrameTemplate(event, "reach-1", "game-server")
    before = time.time_ns() // 1000
    first_id, first = template.stamp()
    second_id, second = template.stamp()
    frame = decode_frame(first, schema=registry, subject=template.subject)
    assert frame.payload == event and (frame.type, frame.world, frame.source) == ("player.spoke", "reach-1", "game-server")
    assert frame.id == frame.correlation_id == first_id and frame.causation_id is None and is_frame_id(first_id)
    assert before <= frame.ts <= time.time_ns() // 1000
    assert second_id != first_id and decode_frame(second).id == second_id
    # Byte for byte what the codec encodes for the same frame.
    same = Frame(type=frame.type, world=frame.world, payload=event, source=frame.source, version=frame.version,
                 id=frame.id, ts=frame.ts)
    assert encode_frame(same) == first


def test_equal_events_share_a_template_and_different_ones_do_not() -> None:
    templates = FrameTemplates("reach-1", "game-server")
    a = templates.template(PlayerMoved(player_id="p1", region="mirewood"))
    assert templates.template(PlayerMoved(player_id="p1", region="mirewood")) is a
    assert templates.template(PlayerMoved(player_id="p1", region="glasswater")) is not a
    assert templates.template(PlayerMoved(player_id="p2", region="mirewood")) is not a
    assert len(templates) == 3


def test_an_event_holding_a_placeholder_value_is_refused() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        FrameTemplate(PlayerMoved(player_id="0" * 26, region="mirewood"), "reach-1", "game-server")
