"""``loreweave request``: one request from the shell, its answer pretty-printed.

The subject comes from the contract's table (:mod:`loreweave.schemas.channels`), the same one the
AsyncAPI document is built from: ``loreweave request world.query --world w1 --payload '{...}'``
goes to ``lw.rpc.w1.world.query``; ``lw.ai.stream`` prints each streamed frame as it comes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from loreweave.actors.runtime import Bus, frame_for
from loreweave.cli.bus_commands import json_object
from loreweave.cli.connection import client_nats_url, with_wait
from loreweave.config import load_settings
from loreweave.protocol import Frame, LoreweaveError, check_world, frame_headers
from loreweave.schemas import ErrorReply, registry
from loreweave.schemas.channels import REQUESTS, Request


@dataclass(frozen=True)
class Target:
    """Where a request goes: its subject, its type, its world, and whether several frames answer."""

    subject: str
    request: Request
    world: str


def resolve_target(target: str, world: str | None) -> Target:
    """The request named by a subject (``lw.rpc.w1.world.query``, ``lw.ai.generate``) or a type.

    Raises:
        LoreweaveError: naming ``SUBJECT|TYPE`` when it is no request, ``--world`` when it is missing
            or contradicts the subject's.
    """
    if world is not None:
        check_world(world)
    public = [request for request in REQUESTS if not request.internal]
    if target.startswith("lw."):
        for request in public:
            pattern = re.escape(request.subject).replace(r"\{world\}", "(?P<world>[A-Za-z0-9_-]+)")
            match = re.fullmatch(pattern, target)
            if match is None:
                continue
            subject_world = match.groupdict().get("world")
            if subject_world and world and subject_world != world:
                raise LoreweaveError("--world", f"{world!r} contradicts the subject's world {subject_world!r}")
            chosen = subject_world or world
            if not chosen:
                raise LoreweaveError("--world", f"is required: the frame sent on {target} names its world")
            return Target(target, request, check_world(chosen))
        raise LoreweaveError("SUBJECT", f"{target!r} is no request subject (lw.rpc.<world>.<domain>.<name>, "
                             "lw.ai.generate or lw.ai.stream)")
    matches = [request for request in public if request.type == target]
    if not matches:
        known = sorted({request.type for request in public})
        raise LoreweaveError("TYPE", f"{target!r} is no request type (one of {', '.join(known)})")
    if not world:
        raise LoreweaveError("--world", "is required with a request type")
    request = matches[0]
    return Target(request.subject.replace("{world}", world), request, world)


def default_role(target: Target) -> str:
    """The role whose credential may send the request: a game server's, else an actor node's (``lw.ai.*``)."""
    return "game-server" if target.subject.startswith("lw.rpc.") else "actor-node"


async def send_request(
    url: str, target: Target, payload_json: str, *, timeout: float = 5.0, wait_s: float = 5.0,
    source: str = "cli", on_frame: Callable[[Frame], None] | None = None,
) -> list[Frame]:
    """Send one request; return the answer's frames (one, or a stream's), each also given to ``on_frame``.

    Raises:
        LoreweaveError: for a bad payload, no responder, no answer within ``timeout`` or a refused subject.
    """
    payload = json_object(payload_json, "--payload")
    kind = target.request.type
    event = registry.validate(kind, registry.get(kind).VERSION, payload)
    bus = await Bus.connect(url, name="loreweave-request", wait_s=wait_s)
    frame = frame_for(event, target.world, source)
    answers: list[Frame] = []
    failure: list[LoreweaveError] = []
    done = asyncio.Event()

    async def take(msg: Any) -> None:
        if not msg.data and msg.headers and msg.headers.get("Status") == "503":  # NATS: no responders
            done.set()
            return
        try:
            answer = bus.decode(msg.data)
        except LoreweaveError as exc:  # shown as the command's one line
            failure.append(LoreweaveError("answer", f"undecodable frame on the inbox: {exc}"))
            done.set()
            return
        answers.append(answer)
        if on_frame is not None:
            on_frame(answer)
        if not target.request.stream or answer.type != target.request.replies[0] or isinstance(
            answer.payload, ErrorReply
        ):
            done.set()

    try:
        inbox = bus.nc.new_inbox()
        await bus.nc.subscribe(inbox, cb=take)
        await bus.nc.publish(target.subject, bus.encode(frame), reply=inbox, headers=frame_headers(frame))
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except asyncio.TimeoutError:
            if "permissions violation" in bus.last_error.lower():
                raise LoreweaveError("SUBJECT", f"this credential may not send on {target.subject}") from None
            raise LoreweaveError("--timeout", f"no answer on {target.subject} within {timeout} s") from None
    finally:
        await bus.close()
    if failure:
        raise failure[0]
    if not answers:
        raise LoreweaveError("SUBJECT", f"nobody answers on {target.subject} (is `loreweave up` or `serve` running?)")
    return answers


def pretty(frame: Frame) -> str:
    """A frame as indented JSON: type, ids, world, source and the whole payload."""
    payload = frame.payload.to_wire() if hasattr(frame.payload, "to_wire") else frame.payload
    shown = {
        "type": frame.type, "id": frame.id, "correlation_id": frame.correlation_id,
        "causation_id": frame.causation_id, "world": frame.world, "source": frame.source, "payload": payload,
    }
    return json.dumps(shown, indent=2, ensure_ascii=False)


@click.command("request")
@click.argument("target", metavar="SUBJECT|TYPE")
@click.option("--world", default=None, help="The world (required with a TYPE or an lw.ai.* subject).")
@click.option("--payload", "payload_json", default="{}", show_default=True, help="The request's fields as JSON.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds to wait.")
@click.option("--as", "role", default=None, help="Role whose credential sends it (default: game-server; "
              "actor-node for lw.ai.*).")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=None,
              help="Seconds to keep trying to reach NATS (default: LOREWEAVE_NATS_CONNECT_WAIT_S, 5).")
def request_command(
    target: str, world: str | None, payload_json: str, timeout: float, role: str | None, wait_s: float | None
) -> None:
    """Send one request and pretty-print the answer: loreweave request world.query --world w1 --payload
    '{"kind": "region", "id": "harbor"}'. Exit status 1 when the answer is a sys.error."""
    settings = with_wait(load_settings(), wait_s)
    resolved = resolve_target(target, world)
    url = client_nats_url(settings, role or default_role(resolved))
    answers = asyncio.run(send_request(
        url, resolved, payload_json, timeout=timeout, wait_s=settings.nats_connect_wait_s,
        on_frame=lambda frame: click.echo(pretty(frame)),
    ))
    if isinstance(answers[-1].payload, ErrorReply):
        sys.exit(1)
