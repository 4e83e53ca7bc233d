"""``loreweave publish`` and ``loreweave tail``: the bus from a terminal."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import click
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NotFoundError

from loreweave.actors.runtime import EVENTS_STREAM, Bus, frame_for
from loreweave.cli.connection import client_nats_url, with_wait
from loreweave.config import load_settings
from loreweave.protocol import Frame, FrameError, SubjectError, check_pattern, check_world, parse_subject
from loreweave.protocol.errors import LoreweaveError
from loreweave.schemas import registry



def json_object(text: str, field: str) -> dict[str, Any]:
    """``text`` as a JSON object.

    Raises:
        LoreweaveError: naming ``field``, when it is not valid JSON or not an object.
    """
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoreweaveError(field, f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise LoreweaveError(field, "must be a JSON object")
    return value

async def publish_json(
    url: str, subject: str, payload_json: str, source: str = "cli", *, wait_s: float = 5.0
) -> Frame:
    """Validate ``payload_json`` as the event of ``subject`` and publish it durably.

    Raises:
        LoreweaveError: for a bad subject or payload, or NATS not reachable within ``wait_s``.
    """
    parsed = parse_subject(subject)
    payload = json_object(payload_json, "payload")
    event_class = registry.get(parsed.event_type)
    event = registry.validate(parsed.event_type, event_class.VERSION, payload)
    bus = await Bus.connect(url, name="loreweave-cli", wait_s=wait_s)
    try:
        frame = frame_for(event, parsed.world, source)
        try:
            await bus.js.stream_info(EVENTS_STREAM)
        except NotFoundError:  # no stream yet: make it where this credential may (not a game server)
            try:
                await bus.ensure_streams()
            except (asyncio.TimeoutError, NatsTimeoutError):
                raise LoreweaveError(
                    "subject", f"no stream stores {subject} and this credential may not create one: start the "
                    "actors first (loreweave up or loreweave run)",
                ) from None
        try:
            await bus.publish(frame, durable=True)
        except (asyncio.TimeoutError, NatsTimeoutError):
            if "permissions violation" in bus.last_error.lower():  # the server dropped it: no ack comes
                raise LoreweaveError("subject", f"this credential may not publish on {subject}") from None
            raise
        return frame
    finally:
        await bus.close()


def describe(frame: Frame) -> str:
    """One readable line for a frame: time, world, type and the payload's fields."""
    when = dt.datetime.fromtimestamp(frame.ts / 1e6).strftime("%H:%M:%S.%f")[:-3]
    payload = frame.payload.to_wire() if hasattr(frame.payload, "to_wire") else frame.payload
    fields = " ".join(
        f"{name}={json.dumps(value, ensure_ascii=False) if isinstance(value, str) and ' ' in value else value}"
        for name, value in payload.items()
        if value not in (None, "", [], {})
    )
    return f"{when} {frame.world} {frame.type:<20} {fields}  [{frame.source}]"


#: Frames ``tail`` hides unless ``--all``: the clock's ticks and every kind of heartbeat.
NOISE_TYPES = frozenset({"clock.tick", "player.heartbeat", "actor.heartbeat", "model.heartbeat"})


def follow_pattern(subject_pattern: str | None, world: str | None) -> str:
    """The pattern ``tail`` subscribes: PATTERN (default every world's narrative), its world token set
    to ``world`` when given; with a world and no PATTERN, every event of that world (``lw.<world>.*.*``).

    Raises:
        SubjectError: for a bad world id or pattern.
    """
    if world is not None:
        check_world(world)
        if subject_pattern is None:
            return f"lw.{world}.*.*"
        tokens = subject_pattern.split(".")
        if len(tokens) < 3 or tokens[0] != "lw":
            raise SubjectError(
                "--world", f"applies to an event pattern lw.<world>.<domain>.<event>, not {subject_pattern!r}"
            )
        subject_pattern = ".".join(["lw", world, *tokens[2:]])
    return check_pattern(subject_pattern or "lw.*.narrative.>")


async def tail(
    url: str, subject_pattern: str, count: int | None, echo: Any = click.echo, *, wait_s: float = 5.0,
    show_all: bool = False,
) -> int:
    """Print frames on ``subject_pattern`` as readable lines; stop after ``count`` frames shown.

    Ticks and heartbeats (:data:`NOISE_TYPES`) are skipped unless ``show_all``.
    """
    check_pattern(subject_pattern)
    bus = await Bus.connect(url, name="loreweave-tail", wait_s=wait_s)
    done = asyncio.Event()
    seen = 0

    async def show(msg: Any) -> None:
        nonlocal seen
        try:
            frame = bus.decode(msg.data)
            if not show_all and frame.type in NOISE_TYPES:
                return
            echo(describe(frame))
        except FrameError as exc:
            echo(f"?? {msg.subject}: undecodable frame: {exc}")
        seen += 1
        if count is not None and seen >= count:
            done.set()

    await bus.nc.subscribe(subject_pattern, cb=show)
    await bus.sync()  # the server's refusal of the subscription, if any, arrives before this
    if "permissions violation for subscription" in bus.last_error.lower():
        await bus.close()
        raise LoreweaveError("PATTERN", f"this credential may not subscribe to {subject_pattern}")
    try:
        await done.wait()
    finally:
        await bus.close()
    return seen


_WAIT_HELP = "Seconds to keep trying to reach NATS (default: LOREWEAVE_NATS_CONNECT_WAIT_S, 5)."


@click.command("publish")
@click.argument("subject")
@click.argument("payload_json", metavar="JSON")
@click.option("--source", default="cli", show_default=True, help="Frame source.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=None, help=_WAIT_HELP)
def publish_command(subject: str, payload_json: str, source: str, wait_s: float | None) -> None:
    """Publish one event: loreweave publish lw.w1.player.joined '{"player_id": "p1"}'."""
    settings = with_wait(load_settings(), wait_s)
    frame = asyncio.run(publish_json(
        client_nats_url(settings, "game-server"), subject, payload_json, source, wait_s=settings.nats_connect_wait_s
    ))
    click.echo(f"published {frame.type} {frame.id} on {frame.subject}")


@click.command("tail")
@click.argument("subject_pattern", metavar="PATTERN", required=False, default=None)
@click.option("--world", default=None, help="Follow one world: its events (lw.<world>.*.*), or PATTERN in it.")
@click.option("--all", "show_all", is_flag=True, help="Show clock ticks and heartbeats too (hidden by default).")
@click.option("--as", "role", default=None,
              help="Role whose credential subscribes (default: designer; game-server with --world and no PATTERN).")
@click.option("--count", "-n", type=int, default=None, help="Stop after this many frames.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=None, help=_WAIT_HELP)
def tail_command(
    subject_pattern: str | None, world: str | None, show_all: bool, role: str | None, count: int | None,
    wait_s: float | None,
) -> None:
    """Print decoded frames on PATTERN as readable lines (default: every world's narrative)."""
    settings = with_wait(load_settings(), wait_s)
    pattern = follow_pattern(subject_pattern, world)
    role = role or ("game-server" if world is not None and subject_pattern is None else "designer")
    try:
        asyncio.run(tail(client_nats_url(settings, role), pattern, count, wait_s=settings.nats_connect_wait_s,
                         show_all=show_all))
    except KeyboardInterrupt:
        pass
