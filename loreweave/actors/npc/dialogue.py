"""How an NPC's lines are written: a small interface, a scripted writer, and a fallback wrapper.

The NPC actor asks a :class:`DialogueWriter` for each line. The default,
:class:`ScriptedDialogue`, needs no model. A model-backed writer (the AI router's
client) plugs in as ``Npc(writer=FallbackDialogue(model_writer, ScriptedDialogue(seed)))``,
so a slow or failing model never leaves a player without an answer.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Literal, Protocol

Purpose = Literal["reply", "greet", "thanks", "asleep"]


@dataclass(frozen=True)
class DialogueRequest:
    """Everything a writer may use for one line."""

    npc_id: str
    npc_name: str
    role: str
    purpose: Purpose
    mood: str = "calm"
    standing: str = "neutral"
    player_id: str | None = None
    player_text: str = ""
    place: str = ""
    weather: str = "clear"
    memory: tuple[str, ...] = ()
    traits: tuple[str, ...] = ()
    content_rating: str = "teen"
    tier: str = "scripted"
    turn: int = 0
    world: str = ""


@dataclass(frozen=True)
class DialogueLine:
    """A line and the tier (or ``scripted``) that wrote it."""

    text: str
    tier: str = "scripted"
    latency_ms: float = 0.0
    notes: tuple[str, ...] = field(default=())


class DialogueWriter(Protocol):
    """Writes one NPC line."""

    async def line(self, request: DialogueRequest) -> DialogueLine:
        """Return the line for ``request``."""
        ...


_LINES: dict[str, dict[str, tuple[str, ...]]] = {
    "greet": {
        "hostile": ("You again. Keep walking, {player}.", "I have nothing for you, {player}."),
        "wary": ("Evening, {player}. Mind yourself around {place}.", "Hm. {player}. What brings you here?"),
        "neutral": ("Well met, {player}. {weather_line}", "Good day, {player}. Welcome to {place}."),
        "friendly": ("{player}! Good to see you again. {weather_line}", "Ah, {player}, come sit a while."),
        "ally": ("{player}, my friend! {place} is safer with you in it.", "There you are, {player}!"),
    },
    "reply": {
        "hostile": ("I said all I will say to you.", "Go bother someone else."),
        "wary": ("Perhaps. Why do you ask about that?", "I keep my own counsel, {player}."),
        "neutral": (
            "As a {role}, I hear many things. {memory_line}",
            "You ask about \"{topic}\"? I feel {mood} today, so I will tell you what I can.",
            "Around {place}, folk say the weather turns without warning. {weather_line}",
        ),
        "friendly": (
            "For you, {player}, anything. {memory_line}",
            "\"{topic}\"? Ask at the market, and tell them {name} sent you.",
        ),
        "ally": ("You know I trust you, {player}. {memory_line}", "Between us: watch the roads after dusk."),
    },
    "thanks": {
        "*": ("You did it, {player}! {place} will not forget.", "I owe you, {player}. Truly."),
    },
    "asleep": {"*": ("Zzz... come back in the morning...", "*snores softly*")},
}
_WEATHER = {
    "clear": "Fine weather for it.", "cloudy": "Clouds are gathering.", "rain": "Mind the rain.",
    "storm": "This storm will not pass soon.", "fog": "Stay close in this fog.", "snow": "Snow again.",
}


class ScriptedDialogue:
    """Deterministic lines from templates: the same request and seed give the same line."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    async def line(self, request: DialogueRequest) -> DialogueLine:
        """Pick and fill a template for the request's purpose and standing."""
        table = _LINES[request.purpose]
        templates = table.get(request.standing) or table.get("*") or table["neutral"]
        rng = random.Random(f"{self.seed}:{request.npc_id}:{request.player_id}:{request.turn}:{request.purpose}")
        topic = " ".join(request.player_text.split()[:4]).strip(" ?!.,") or "the road"
        memory = request.memory[-1].split(" ", 2)[-1] if request.memory else ""
        text = rng.choice(templates).format(
            player=request.player_id or "traveller", place=request.place or "these parts", role=request.role,
            mood=request.mood, name=request.npc_name, topic=topic,
            weather_line=_WEATHER.get(request.weather, ""),
            memory_line=f"I remember: {memory}." if memory else "Quiet days, mostly.",
        )
        return DialogueLine(" ".join(text.split()), "scripted")


class FallbackDialogue:
    """Try ``primary`` (a model) within ``timeout_s``; on error or timeout use ``fallback``."""

    def __init__(self, primary: DialogueWriter, fallback: DialogueWriter, timeout_s: float = 2.0) -> None:
        self.primary = primary
        self.fallback = fallback
        self.timeout_s = timeout_s

    async def line(self, request: DialogueRequest) -> DialogueLine:
        """The primary's line, else the fallback's (with a note saying why)."""
        if request.tier == "scripted":
            return await self.fallback.line(request)
        try:
            return await asyncio.wait_for(self.primary.line(request), self.timeout_s)
        except Exception as exc:  # noqa: BLE001  (any model failure degrades to the script, never to silence)
            line = await self.fallback.line(request)
            return DialogueLine(line.text, line.tier, line.latency_ms, (f"fallback: {type(exc).__name__}",))
