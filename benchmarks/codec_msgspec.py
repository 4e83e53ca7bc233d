"""Decode + validate per frame: today's codec (msgspec envelope, pydantic payload) against the map path it replaced and msgspec typed Structs, same run.

    .venv/bin/python benchmarks/codec_msgspec.py [--frames 20000] [--rounds 5]

Pure codec, no NATS. A mix of four frames (player.moved, player.spoke, npc.said,
quest.progressed) encoded by today's codec is decoded:

- today: ``decode_frame(data, schema=registry, subject=...)`` (the envelope decoded by msgspec
  into a Struct of wire types, one joined regex, the payload validated by its pydantic model,
  ``Frame``);
- the map path: what ``decode_frame`` did before and still does for a frame it must explain
  (msgpack to a map, the envelope checked field by field, pydantic, ``Frame``);
- msgspec, one pass: one tagged union of typed frame Structs (``type`` is the tag), every
  constraint (ULID ids, version, world, lengths, ts range) in the Structs' ``Meta``;
- msgspec + one regex: the same Structs without the string patterns, then the codec's one
  joined regex over version, type, ids and world.

Both msgspec decoders must agree with today's on which of a set of bad frames they refuse.
It prints µs per frame (best of ``--rounds``) and the ratios, then encoding (today's against
the msgpack path it replaced, same bytes, and a msgspec Struct), and the simulated
game server's pre-encoded frames (:mod:`loreweave.simulate.frames`) against typed frame + encode.
The schema layer is not changed: the Structs here mirror four events for the measurement only.
Not mirrored: pydantic keeps unknown payload fields of a newer minor version; msgspec drops them.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Callable, Union

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loreweave.actors.runtime import frame_for  # noqa: E402
from loreweave.protocol import FrameError, decode_frame, encode_frame  # noqa: E402
from loreweave.protocol.codec import MAX_TS_US, _check_envelope, _decode_map  # noqa: E402
from loreweave.protocol.subjects import RESERVED_WORLDS  # noqa: E402
from loreweave.schemas import NpcSaid, PlayerMoved, PlayerSpoke, QuestProgressed, registry  # noqa: E402
from loreweave.simulate.frames import FrameTemplate  # noqa: E402

ULID = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


def frame_types(strict: bool) -> Any:
    """The tagged union of the four frames; ``strict`` puts the string patterns in the Structs."""

    def pattern(regex: str) -> msgspec.Meta:
        return msgspec.Meta(pattern=regex) if strict else msgspec.Meta()

    FrameId = Annotated[str, pattern(ULID)]
    Version = Annotated[str, pattern(r"^\d{1,4}\.\d{1,4}$")]
    World = Annotated[str, pattern(r"^[A-Za-z0-9_-]+$")]
    Source = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern="^[^\x00]+$")]
    Ts = Annotated[int, msgspec.Meta(ge=0, le=MAX_TS_US)]

    # Built with defstruct (not class bodies): annotations here are strings (``from __future__``)
    # and the constrained types are local to this function.
    PlayerMovedS = msgspec.defstruct("PlayerMovedS", [("player_id", Id), ("region", Id)])
    PlayerSpokeS = msgspec.defstruct(
        "PlayerSpokeS", [("player_id", Id), ("npc_id", Id), ("text", Annotated[str, msgspec.Meta(max_length=2000)])])
    NpcSaidS = msgspec.defstruct("NpcSaidS", [
        ("npc_id", Id), ("text", Annotated[str, msgspec.Meta(max_length=4000)]),
        ("to_player", Union[str, None], None), ("tier", str, "scripted"), ("fallback", str, "")])
    QuestProgressedS = msgspec.defstruct("QuestProgressedS", [
        ("player_id", Id), ("quest_id", Id), ("objective", str),
        ("count", Annotated[int, msgspec.Meta(ge=0)]), ("needed", Annotated[int, msgspec.Meta(ge=1)])])
    envelope = [("version", Version), ("id", FrameId), ("ts", Ts), ("world", World), ("source", Source),
                ("correlation_id", FrameId), ("causation_id", Union[FrameId, None])]

    def framed(tag: str, payload: type) -> type:
        return msgspec.defstruct(f"Frame_{tag}", [*envelope, ("payload", payload)], tag=tag, tag_field="type")

    frames = [framed("player.moved", PlayerMovedS), framed("player.spoke", PlayerSpokeS),
              framed("npc.said", NpcSaidS), framed("quest.progressed", QuestProgressedS)]
    return Union[tuple(frames)]  # type: ignore[return-value]


_JOINED = re.compile(r"\d{1,4}\.\d{1,4}\0[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\0" + ULID[1:-1] + r"\0" + ULID[1:-1]
                     + r"\0[A-Za-z0-9_-]+")
_ULID = re.compile(ULID[1:-1])


def msgspec_one_pass() -> Callable[[bytes], Any]:
    decoder = msgspec.msgpack.Decoder(frame_types(strict=True))

    def decode(data: bytes) -> Any:
        frame = decoder.decode(data)
        if frame.world in RESERVED_WORLDS or not frame.version.startswith("1."):
            raise FrameError("world", "reserved or unsupported version")
        return frame

    return decode


def msgspec_and_regex() -> Callable[[bytes], Any]:
    decoder = msgspec.msgpack.Decoder(frame_types(strict=False))
    match, ulid = _JOINED.fullmatch, _ULID.fullmatch

    def decode(data: bytes) -> Any:
        frame = decoder.decode(data)
        tag = type(frame).__struct_config__.tag
        if (
            not match(f"{frame.version}\0{tag}\0{frame.id}\0{frame.correlation_id}\0{frame.world}")
            or (frame.causation_id is not None and not ulid(frame.causation_id))
            or frame.world in RESERVED_WORLDS
            or not frame.version.startswith("1.")
        ):
            raise FrameError("frame", "bad envelope")
        return frame

    return decode


def today() -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        return decode_frame(data, schema=registry)

    return decode


def map_path() -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        return _decode_map(data, registry, None)

    return decode


def sample_frames() -> list[bytes]:
    events = [
        PlayerMoved(player_id="p0042", region="mirewood"),
        PlayerSpoke(player_id="p0042", npc_id="wren", text="Any news from the river?"),
        NpcSaid(npc_id="wren", text="The eels run thick tonight, traveller.", to_player="p0042", tier="gold"),
        QuestProgressed(player_id="p0042", quest_id="eels-for-tam", objective="collect-eels", count=2, needed=5),
    ]
    return [encode_frame(frame_for(event, "reach-1", "game-server")) for event in events]


def bad_frames(good: bytes) -> list[bytes]:
    """Frames each decoder must refuse: a bad id, an empty region, a missing field, a reserved world..."""
    import msgpack

    wire = msgpack.unpackb(good, raw=False)

    def changed(**fields: Any) -> bytes:
        copy = {**wire, **{k: v for k, v in fields.items() if k != "payload"}}
        if "payload" in fields:
            copy["payload"] = {**wire["payload"], **fields["payload"]}
        return msgpack.packb(copy)

    missing = dict(wire)
    del missing["ts"]
    return [
        changed(id="not-a-ulid"), changed(payload={"region": ""}), msgpack.packb(missing), changed(world="rpc"),
        changed(ts=-1), changed(version="2.0"), changed(type="player.unknown"), changed(payload={"region": 7}),
        changed(causation_id="x"), changed(source=""), b"\x93\x01\x02\x03",
    ]


def encode_frame_before(frame: Any) -> bytes:
    """``encode_frame`` before typed payloads took msgspec: ``model_dump(mode="json")`` and ``msgpack.packb``."""
    import msgpack

    wire = {"version": frame.version, "type": frame.type, "id": frame.id, "ts": frame.ts, "world": frame.world,
            "source": frame.source, "correlation_id": frame.correlation_id, "causation_id": frame.causation_id,
            "payload": frame.payload.model_dump(mode="json")}
    _check_envelope(wire)
    return msgpack.packb(wire, use_bin_type=True)


def per_frame_us(decode: Callable[[bytes], Any], frames: list[bytes], total: int, rounds: int) -> float:
    batch = (frames * (total // len(frames) + 1))[:total]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for data in batch:
            decode(data)
        best = min(best, time.perf_counter() - started)
    return best / total * 1e6


def refuses(decode: Callable[[bytes], Any], data: bytes) -> bool:
    try:
        decode(data)
    except (FrameError, msgspec.ValidationError, msgspec.DecodeError):
        return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    frames = sample_frames()
    decoders = {"msgspec envelope + pydantic (today)": today(), "msgpack map + pydantic (before)": map_path(),
                "msgspec, one pass": msgspec_one_pass(),
                "msgspec + one regex": msgspec_and_regex()}
    bad = bad_frames(frames[0])
    expected = [refuses(decoders["msgspec envelope + pydantic (today)"], data) for data in bad]
    assert all(expected), "today's codec accepted a frame meant to be bad"
    for name, decode in decoders.items():
        for data in frames:
            decode(data)
        agree = [refuses(decode, data) for data in bad] == expected
        assert agree, f"{name} does not refuse the same frames as today's codec"
    print(f"decode + validate, {args.frames} frames (4 kinds), best of {args.rounds}; every decoder refuses the same"
          f" {len(bad)} bad frames")
    figures = {name: per_frame_us(decode, frames, args.frames, args.rounds) for name, decode in decoders.items()}
    base = figures["msgspec envelope + pydantic (today)"]
    for name, us in figures.items():
        print(f"  {name:<36} {us:6.2f} µs/frame   today/this {base / us:5.2f}x")

    import msgpack

    typed = [decode_frame(data, schema=registry) for data in frames]
    structs = [decoders["msgspec, one pass"](data) for data in frames]
    encoder = msgspec.msgpack.Encoder()
    encode_today = per_frame_us(lambda frame: encode_frame(frame), typed, args.frames, args.rounds)  # type: ignore[arg-type]
    encode_before = per_frame_us(encode_frame_before, typed, args.frames, args.rounds)  # type: ignore[arg-type]
    encode_msgspec = per_frame_us(encoder.encode, structs, args.frames, args.rounds)  # type: ignore[arg-type]
    assert all(encode_frame(frame) == encode_frame_before(frame) for frame in typed)
    print("encode")
    print(f"  encode_frame (today)         {encode_today:6.2f} µs/frame")
    print(f"  msgpack.packb (before)       {encode_before:6.2f} µs/frame   before/today {encode_before / encode_today:5.2f}x"
          " (the same bytes)")
    print(f"  msgspec Encoder              {encode_msgspec:6.2f} µs/frame   today/this {encode_today / encode_msgspec:5.2f}x")
    assert all(msgpack.unpackb(encoder.encode(s)) == msgpack.unpackb(d) for s, d in zip(structs, frames))

    events = [frame.payload for frame in typed]
    templates = [FrameTemplate(event, "reach-1", "game-server") for event in events]
    fresh = per_frame_us(lambda event: encode_frame(frame_for(event, "reach-1", "game-server")), events,  # type: ignore[arg-type]
                         args.frames, args.rounds)
    stamped = per_frame_us(lambda template: template.stamp(), templates, args.frames, args.rounds)  # type: ignore[arg-type]
    print("simulated game server, one frame to send")
    print(f"  frame_for + encode_frame     {fresh:6.2f} µs/frame")
    print(f"  pre-encoded template, stamp  {stamped:6.2f} µs/frame   ratio {fresh / stamped:5.2f}x")


if __name__ == "__main__":
    main()
