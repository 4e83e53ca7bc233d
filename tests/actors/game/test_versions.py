"""Versions: compatible builds are accepted, others refused with a reason; the field is reported."""

from __future__ import annotations

import pytest

from loreweave.actors.versions import Versions, parse_build
from loreweave.protocol import ConfigError
from loreweave.schemas import (
    ClockDay,
    VersionAccepted,
    VersionAnnounced,
    VersionGetReport,
    VersionRefused,
    VersionReport,
)

from .conftest import ask, eventually


def test_builds_parse_and_bad_config_is_refused() -> None:
    assert parse_build("1.4.2-rc1") == (1, 4, 2) and parse_build("v2") == (2, 0, 0) and parse_build("dev") is None
    with pytest.raises(ConfigError):
        Versions(protocol="2.0", min_protocol="1.0")


async def test_verdicts_and_field_report(bus, start_node, world, frames) -> None:
    await start_node(Versions(protocol="1.2", min_protocol="1.1", min_builds={"client": "1.3.0", "server": "2.0"}))
    announcements = [
        ("server", "srv-1", "2.1.0", "1.2", "UE 5.4"),
        ("client", "c-ok", "1.4.2", "1.3", "UE 5.4"),  # a newer minor is compatible
        ("client", "c-old-build", "1.2.9", "1.2", "UE 5.3"),
        ("client", "c-old-proto", "1.4.0", "1.0", "UE 5.4"),
        ("client", "c-new-major", "1.4.0", "2.0", "UE 5.5"),
        ("client", "c-junk", "nightly", "1.2", ""),
    ]
    for component, cid, build, protocol, engine in announcements:
        await bus.emit(VersionAnnounced(component=component, component_id=cid, build=build, protocol=protocol,
                                        engine=engine), world, source="test")
    await eventually(lambda: len(frames.of(VersionAccepted)) + len(frames.of(VersionRefused)) == 6)
    assert sorted(a.component_id for a in frames.of(VersionAccepted)) == ["c-ok", "srv-1"]
    reasons = {r.component_id: r.reason for r in frames.of(VersionRefused)}
    assert reasons == {
        "c-old-build": "client build 1.2.9 is older than the oldest supported, 1.3.0",
        "c-old-proto": "protocol 1.0 is too old: 1.1 or newer is needed",
        "c-new-major": "protocol 2.0 is incompatible: this world speaks 1.x",
        "c-junk": "build 'nightly' has no version number",
    }
    assert frames.of(VersionRefused)[0].supported == "protocol 1.x >= 1.1; client >= 1.3.0, server >= 2.0"
    report = await ask(bus, world, VersionGetReport())
    assert (report.accepted, report.refused) == (2, 4)
    assert report.protocols == {"1.0": 1, "1.2": 3, "1.3": 1, "2.0": 1}
    assert report.engines == {"UE 5.3": 1, "UE 5.4": 3, "UE 5.5": 1} and report.builds["server 2.1.0"] == 1
    await bus.emit(ClockDay(day=1, season="spring", game_minutes=1440), world, source="test")
    await eventually(lambda: frames.of(VersionReport) == [report])
