"""The scripted engine: deterministic lines from a small grammar and the request's context.

It needs no model, answers in microseconds, and is the last fallback of every route,
so a game never stalls. The same request always gets the same line.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from typing import Any, AsyncIterator, Mapping

from loreweave.serve.engines.base import Delta, Engine, EngineRequest

#: Default rules. ``#rule#`` expands a rule (``#greeting.angry#`` is tried before ``#greeting#``
#: when the context's mood is angry); ``{key}`` is a context value.
GRAMMAR: dict[str, list[str]] = {
    "dialogue": ["#greeting#, {player}. #remark#", "#greeting#. #remark# #closing#", "{player}... #remark#"],
    "narrative": ["#time# in {place}, #event#.", "In {place}, #event#, and #aftermath#."],
    "background": ["{npc} #chore# in {place}.", "{npc} #chore#."],
    "greeting": ["Well met", "Greetings", "Ah, a traveller", "Good day"],
    "greeting.angry": ["What do you want", "Make it quick", "You again"],
    "greeting.happy": ["Welcome, welcome", "What a fine day to see you", "Hello, friend"],
    "remark": [
        "The roads are not safe after dark.",
        "I have heard talk of {topic}.",
        "If it is {topic} you seek, ask at the inn.",
        "Mind your purse around here.",
        "The harvest was poor this year.",
    ],
    "closing": ["Safe travels.", "Off with you, then.", "Come back any time."],
    "time": ["At dawn", "As the bells rang noon", "When night fell", "Under a grey sky"],
    "event": [
        "a stranger arrived with news of {topic}",
        "the market went quiet",
        "smoke rose beyond the hills",
        "{npc} was seen leaving in a hurry",
    ],
    "aftermath": ["nobody spoke of it again", "rumours spread by evening", "the guards doubled their watch"],
    "chore": ["sweeps the floor", "mends a net", "counts coins twice", "hums an old song", "feeds the hens"],
}
DEFAULT_CONTEXT = {"player": "traveller", "npc": "someone", "place": "the village", "topic": "strange lights"}
_RULE = re.compile(r"#([A-Za-z0-9_.-]+)#")
_SLOT = re.compile(r"\{([A-Za-z0-9_]+)\}")
_WORD = re.compile(r"\S+\s*")


def seed_of(request: EngineRequest) -> int:
    """A stable seed from what the request asks: same request, same line."""
    parts = [request.kind, request.prompt, json.dumps(dict(request.context), sort_keys=True)]
    parts.append(str(request.sampling.seed))
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class ScriptedEngine(Engine):
    """Grammar-and-template lines, optionally paced like speech (``token_delay_ms``).

    Engine args: ``grammar`` (rules added to or replacing :data:`GRAMMAR`),
    ``token_delay_ms`` and ``first_token_delay_ms`` (pacing of streamed words).
    """

    name = "scripted"

    def __init__(self, model: str | None = None, engine_args: Mapping[str, Any] | None = None) -> None:
        super().__init__(model or "scripted", engine_args or {})
        self.grammar = {**GRAMMAR, **self.engine_args.get("grammar", {})}
        self.token_delay_s = float(self.engine_args.get("token_delay_ms", 0)) / 1000
        self.first_token_delay_s = float(self.engine_args.get("first_token_delay_ms", 0)) / 1000

    def line(self, request: EngineRequest) -> str:
        """The text this engine answers ``request`` with (JSON when a schema is asked for)."""
        rng = random.Random(seed_of(request))
        context = {**DEFAULT_CONTEXT, **request.context}
        text = self._expand(request.kind, rng, context, depth=0)
        if request.json_schema is not None:
            return json.dumps(instance_for(request.json_schema, text, context, rng), ensure_ascii=False)
        return _clip_words(text, request.sampling.max_tokens)

    def _expand(self, rule: str, rng: random.Random, context: Mapping[str, str], depth: int) -> str:
        mood = context.get("mood", "")
        options = self.grammar.get(f"{rule}.{mood}") or self.grammar.get(rule) or [rule]
        template = rng.choice(options)
        if depth < 8:
            template = _RULE.sub(lambda m: self._expand(m.group(1), rng, context, depth + 1), template)
        return _SLOT.sub(lambda m: context.get(m.group(1), m.group(1)), template)

    async def stream(self, request: EngineRequest) -> AsyncIterator[Delta]:
        """Yield the line word by word (one word counts as one token)."""
        words = _WORD.findall(self.line(request)) or [""]
        prompt_tokens = len(request.prompt.split())
        if self.first_token_delay_s:
            await asyncio.sleep(self.first_token_delay_s)
        for index, word in enumerate(words):
            if index and self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            last = index == len(words) - 1
            yield Delta(word, index + 1, prompt_tokens, "stop" if last else None)


def _clip_words(text: str, max_tokens: int) -> str:
    words = _WORD.findall(text)
    return text if len(words) <= max_tokens else "".join(words[:max_tokens]).rstrip()


def instance_for(schema: Mapping[str, Any], line: str, context: Mapping[str, str], rng: random.Random) -> Any:
    """A value matching ``schema``: the line goes in the first free-text field, context values by name."""
    state = {"line_used": False}

    def build(node: Mapping[str, Any], name: str) -> Any:
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return rng.choice(list(node["enum"]))
        for combinator in ("anyOf", "oneOf", "allOf"):
            if combinator in node and node[combinator]:
                return build(node[combinator][0], name)
        kind = node.get("type", "object" if "properties" in node else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            properties: Mapping[str, Any] = node.get("properties", {})
            required = set(node.get("required", properties))
            return {key: build(sub, key) for key, sub in properties.items() if key in required}
        if kind == "array":
            count = max(int(node.get("minItems", 1)), 0)
            return [build(node.get("items", {}), name) for _ in range(count)]
        if kind == "integer":
            return int(node.get("minimum", node.get("exclusiveMinimum", -1) + 1))
        if kind == "number":
            return float(node.get("minimum", 0.0))
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        if name in context:
            text = context[name]
        elif not state["line_used"]:
            state["line_used"] = True
            text = line
        else:
            text = name
        text = text[: int(node.get("maxLength", len(text)))]
        return text.ljust(int(node.get("minLength", 0)), ".")

    return build(schema, "")
