"""How much a memory matters (1-10): rated by the AI tier when one answers, estimated otherwise.

Generative Agents asks the language model to rate poignancy from 1 (brushing teeth) to 10
(a break-up). Without a model, :func:`estimate_importance` gives a scripted estimate from
the kind of observation and a few words that signal weight (a death, a betrayal, a gift).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

logger = logging.getLogger(__name__)

#: Base importance of each kind of observation (scripted estimate).
BASE_IMPORTANCE: dict[str, float] = {
    "met": 2.0,
    "heard": 3.0,
    "quest": 6.0,
    "weather": 2.0,
    "world": 5.0,
    "observation": 3.0,
    "reflection": 6.0,
}
#: Words that make an observation weigh more (+2) or less (-1).
_HEAVY = re.compile(
    r"\b(die[ds]?|dead|death|kill\w*|murder\w*|betray\w*|war|fire|burn\w*|stole|stolen|thief|love[ds]?|"
    r"marr\w+|born|birth|deposed|crowned|attack\w*|storm|flood\w*|failed|saved|rescued|gift|debt|secret)\b",
    re.IGNORECASE,
)
_LIGHT = re.compile(r"\b(hello|hi|greet\w*|weather|nice day|good day|thanks?)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b(10|[1-9])(?:\.\d+)?\b")


def clamp_importance(value: float) -> float:
    """``value`` kept within 1-10."""
    return max(1.0, min(10.0, float(value)))


def estimate_importance(kind: str, text: str) -> float:
    """A scripted importance for an observation of ``kind`` (see :data:`BASE_IMPORTANCE`)."""
    score = BASE_IMPORTANCE.get(kind, BASE_IMPORTANCE["observation"])
    heavy = len(_HEAVY.findall(text))
    score += 2.0 * min(heavy, 2)
    if not heavy and _LIGHT.search(text):
        score -= 1.0
    return clamp_importance(score)


class ImportanceRater(Protocol):
    """Rates a memory's importance (1-10), or returns None when it cannot (the estimate is used)."""

    async def rate(self, world: str, owner: str, kind: str, text: str) -> float | None:
        """The rating of ``text`` for ``owner``, or None."""
        ...


def rating_prompt(owner: str, text: str) -> str:
    """The Generative Agents poignancy prompt for one memory."""
    return (
        "On the scale of 1 to 10, where 1 is purely mundane (e.g., brushing teeth, making bed) and 10 is "
        "extremely poignant (e.g., a break up, college acceptance), rate the likely poignancy of the "
        f"following piece of memory of {owner}.\nMemory: {text}\nRating: <fill in a number>"
    )


def parse_rating(answer: str) -> float | None:
    """The first number from 1 to 10 in a model's answer, or None."""
    match = _NUMBER.search(answer)
    return clamp_importance(float(match.group(1))) if match else None


class AIImportance:
    """Asks the AI layer (``background`` requests) to rate a memory within ``timeout_s``.

    ``client`` is a :class:`loreweave.serve.client.AIClient` (or anything with its ``generate``).
    Any failure (no tier answers, a timeout, an answer without a number) returns None and is
    logged, so the scripted estimate stands in.
    """

    def __init__(self, client: Any, *, timeout_s: float = 1.0) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.failures = 0

    async def rate(self, world: str, owner: str, kind: str, text: str) -> float | None:
        """The AI tier's rating, or None."""
        from loreweave.schemas.ai import GenerateRequest

        try:
            result = await self.client.generate(
                world,
                GenerateRequest(kind="background", prompt=rating_prompt(owner, text), context={"task": "importance"}),
                timeout=self.timeout_s,
            )
        except Exception as exc:  # noqa: BLE001  (any AI failure falls back to the estimate)
            self._failed(type(exc).__name__)
            return None
        rating = parse_rating(str(getattr(result, "text", "")))
        if rating is None:
            self._failed("an answer without a rating")
        return rating

    def _failed(self, why: str) -> None:
        # Counted every time; logged at INFO once (a world without AI tiers would log every memory).
        self.failures += 1
        level = logging.INFO if self.failures == 1 else logging.DEBUG
        logger.log(level, "memory importance: the AI tier did not rate (%s); scripted estimates stand in "
                   "(%d times so far)", why, self.failures)
