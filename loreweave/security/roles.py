"""Who may publish and subscribe what on the bus: one nats-server permission map per role.

The subject is what NATS checks, so the subject layout is the security model:

- events ``lw.<world>.<domain>.<event>``: a game server publishes only the input events it owns
  (:data:`GAME_SERVER_EVENTS`); every other event type is an actor's output and only actor nodes
  publish it, so a forged ``payment.succeeded`` or ``world.flag_set`` is refused by the server;
- requests ``lw.rpc.<world>.<domain>.<name>``: only actor nodes subscribe them (answer); a
  game server sends them and reads replies on its own inboxes only, ``_INBOX.<user>.>``;
- ``lw.sys.>`` (heartbeats, dead-letter storage), ``lw.dlq.>`` and ``$JS.API.>`` beyond
  stream and consumer info belong to actor nodes (and the admin).

A role scoped to worlds gets subjects for those worlds only; ``*`` grants every world, with
the system subjects that a ``*`` token would also match denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from loreweave.protocol.errors import ConfigError
from loreweave.protocol.subjects import PARTITION_ROOT, RESERVED_WORLDS, check_world

#: Event types a game server publishes (its input): everything else is an actor's output.
#: ``player.left`` is both: a game server says a player logged out, the players actor says a
#: session timed out.
GAME_SERVER_EVENTS: tuple[str, ...] = (
    "world.opened", "world.closed", "world.region_claimed",
    "npc.spawned",
    "player.joined", "player.left", "player.moved", "player.spoke", "player.collected", "player.defeated",
    "player.heartbeat",
    "language.glossary_added",
    "version.announced",
)

#: What a designer may read in a world: the story, NPC lines, quests, localized lines, flags.
DESIGNER_READS: tuple[str, ...] = (
    "narrative.>", "npc.said", "quest.*", "language.localized", "world.flag_set",
)

#: Requests an operator may send in any world (read-only status).
OPS_REQUESTS: tuple[str, ...] = ("registry.query", "qos.get_status", "version.get_report")

#: Every reply inbox: the services (actor nodes, the AI layer) answer anyone's requests.
INBOX = "_INBOX.>"


def inbox_prefix(user: str) -> str:
    """A client's own reply inboxes, ``_INBOX.<user>.<nuid>`` (nats-py's ``inbox_prefix``): a game
    server or designer reads its own replies only, never another client's receipts or ledgers."""
    return f"_INBOX.{user}"

#: Subjects a ``*`` world token would also match: never a world's events.
SYSTEM_SUBJECTS: tuple[str, ...] = tuple(f"lw.{name}.>" for name in sorted(RESERVED_WORLDS - {"rpc"}))

#: Read-only JetStream API: account, stream and consumer info and lists.
JS_INFO: tuple[str, ...] = (
    "$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST",
    "$JS.API.CONSUMER.INFO.*.*", "$JS.API.CONSUMER.NAMES.*", "$JS.API.CONSUMER.LIST.*",
)

#: The AI layer's key-value bucket of shared limits (``loreweave/serve/shared_limits.py``).
AI_CAPS_STREAM = "KV_LW_AI_CAPS"


@dataclass(frozen=True)
class Role:
    """A role: what it is for, and whether its credentials are scoped to worlds."""

    name: str
    purpose: str
    scoped: bool = False


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("admin", "everything (operators repairing the bus)"),
        Role("actor-node", "hosts actors: answers requests, publishes actor events, JetStream, KV, DLQ"),
        Role("ai", "the AI bridge, router and tiers: lw.ai.>, the LW_AI_CAPS bucket"),
        Role("game-server", "publishes its worlds' input events, sends requests, reads its worlds", scoped=True),
        Role("designer", "reads its worlds' story, NPC lines and quests; asks the knowledge base", scoped=True),
        Role("ops", "heartbeats, dead letters, metrics, stream and consumer info, status requests"),
    )
}


def check_role(role: str) -> Role:
    """The role named ``role``.

    Raises:
        ConfigError: naming the role when it is unknown.
    """
    if role not in ROLES:
        raise ConfigError("role", f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return ROLES[role]


def check_worlds(worlds: Iterable[str]) -> tuple[str, ...]:
    """World ids of a scoped credential (``*``: every world), checked and sorted.

    Raises:
        ConfigError: for an empty list or an invalid world id.
    """
    chosen = sorted({w.strip() for w in worlds if w.strip()})
    if not chosen:
        raise ConfigError("worlds", "name at least one world (or * for every world)")
    if "*" in chosen:
        return ("*",)
    return tuple(check_world(world) for world in chosen)


def _rule(allow: list[str], deny: Iterable[str] = ()) -> dict[str, list[str]]:
    rule = {"allow": allow}
    if deny:
        rule["deny"] = list(deny)
    return rule


def permissions(role: str, worlds: Iterable[str] = ("*",), user: str | None = None) -> dict[str, Any]:
    """The nats-server ``permissions`` map of ``user`` with ``role`` (scoped to ``worlds``).

    Clients of the ``game-server``, ``designer`` and ``ops`` roles get replies only on their
    own inboxes, ``_INBOX.<user>.>`` (:func:`inbox_prefix`; the user defaults to the role).
    """
    check_role(role)
    scope = check_worlds(worlds)
    every_world = scope == ("*",)
    own = inbox_prefix(user or role) + ".>"
    if role == "admin":
        return {"publish": _rule([">"]), "subscribe": _rule([">"])}
    if role == "actor-node":
        return {
            "publish": _rule(["lw.>", INBOX, "$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$KV.>"]),
            "subscribe": _rule(["lw.>", f"{PARTITION_ROOT}.>", INBOX]),
            "allow_responses": True,
        }
    if role == "ai":
        caps = AI_CAPS_STREAM
        return {
            "publish": _rule([
                "lw.ai.>", INBOX, "$KV.LW_AI_CAPS.>", f"$JS.API.STREAM.INFO.{caps}", f"$JS.API.STREAM.CREATE.{caps}",
                f"$JS.API.STREAM.MSG.GET.{caps}", f"$JS.API.DIRECT.GET.{caps}", f"$JS.API.DIRECT.GET.{caps}.>",
                f"$JS.API.CONSUMER.CREATE.{caps}", f"$JS.API.CONSUMER.CREATE.{caps}.>",
                f"$JS.API.CONSUMER.DELETE.{caps}.>", "$JS.ACK.KV_LW_AI_CAPS.>", "$JS.FC.>",
            ]),
            "subscribe": _rule(["lw.ai.>", INBOX]),
            "allow_responses": True,
        }
    if role == "ops":
        return {
            "publish": _rule([*JS_INFO, "lw.ops.>", own, *(f"lw.rpc.*.{r}" for r in OPS_REQUESTS)]),
            "subscribe": _rule(["lw.sys.heartbeat.>", "lw.dlq.>", "lw.ops.>", "lw.*.registry.*",
                                "lw.*.qos.level_changed", own]),
        }
    deny = SYSTEM_SUBJECTS if every_world else ()
    if role == "game-server":
        return {
            "publish": _rule(
                [*(f"lw.{w}.{event}" for w in scope for event in GAME_SERVER_EVENTS),
                 *(f"lw.rpc.{w}.>" for w in scope), own, "$JS.API.STREAM.INFO.LOREWEAVE"],
                deny,
            ),
            # Events only (four tokens): a game server never receives requests, so cannot answer them.
            "subscribe": _rule(
                [*(f"lw.{w}.*.*" for w in scope), own], [*deny, "lw.rpc.>"] if every_world else ()
            ),
        }
    # designer
    return {
        "publish": _rule([*(f"lw.rpc.{w}.kb.*" for w in scope), own], deny),
        "subscribe": _rule(
            [*(f"lw.{w}.{what}" for w in scope for what in DESIGNER_READS), own],
            [*deny, "lw.rpc.>"] if every_world else (),
        ),
    }
