"""Translation behind a small interface: a built-in phrasebook per locale, with glossary protection.

Lore terms (places, people, factions) are masked before translating and restored after, so
"The Mirewood" never becomes "Le Bois-Marais". A machine-translation model can replace
:class:`PhrasebookTranslator` by implementing :class:`Translator`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Protocol

from loreweave.actors.language.phrasebooks import PHRASEBOOKS

_TOKEN = re.compile(r"\w[\w'-]*|\s+|[^\w\s]")
_MASK_BASE = 0xE000  # private-use characters: never words, never in real text
MAX_PHRASE_WORDS = 4
#: Translations a :class:`PhrasebookTranslator` remembers: narrative and NPC lines repeat, and
#: each is localised once per locale present, so most calls are for a text already translated.
CACHED_TRANSLATIONS = 4096


@dataclass(frozen=True)
class Translation:
    """A translated text, the share of its words the translator knew, and the terms kept."""

    text: str
    coverage: float
    protected: tuple[str, ...] = field(default=())


class Translator(Protocol):
    """Translates text into a locale, leaving glossary terms untouched."""

    def supports(self, locale: str) -> bool:
        """Whether ``locale`` can be translated into."""
        ...

    async def translate(self, text: str, locale: str, glossary: Sequence[str]) -> Translation:
        """Translate ``text`` into ``locale``."""
        ...


def base_locale(locale: str) -> str:
    """The language part of a locale: ``fr-FR`` -> ``fr``."""
    return locale.replace("_", "-").split("-")[0].lower()


class PhrasebookTranslator:
    """Greedy longest-phrase substitution from a phrasebook; unknown words stay as they are."""

    def __init__(self, phrasebooks: Mapping[str, Mapping[str, str]] = PHRASEBOOKS) -> None:
        self.phrasebooks = {base_locale(locale): dict(book) for locale, book in phrasebooks.items()}
        self._recent: OrderedDict[tuple[str, str, tuple[str, ...]], Translation] = OrderedDict()

    def supports(self, locale: str) -> bool:
        """Whether a phrasebook exists for the locale's language."""
        return base_locale(locale) in self.phrasebooks

    async def translate(self, text: str, locale: str, glossary: Sequence[str]) -> Translation:
        """Translate word by word (phrases first), keeping glossary terms verbatim.

        The result is a function of its arguments: the last :data:`CACHED_TRANSLATIONS` are kept.
        """
        language = base_locale(locale)
        book = self.phrasebooks.get(language)
        if book is None:
            return Translation(text, 0.0)
        key = (text, language, tuple(glossary))
        found = self._recent.get(key)
        if found is not None:
            self._recent.move_to_end(key)
            return found
        result = self._translate(text, book, glossary)
        self._recent[key] = result
        if len(self._recent) > CACHED_TRANSLATIONS:
            self._recent.popitem(last=False)
        return result

    @staticmethod
    def _translate(text: str, book: Mapping[str, str], glossary: Sequence[str]) -> Translation:
        masked, kept = _mask(text, glossary)
        tokens = _TOKEN.findall(masked)
        out: list[str] = []
        words = known = 0
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if not token[0].isalnum() and token[0] != "_":
                out.append(token)
                index += 1
                continue
            match, span, width = _longest(tokens, index, book)
            if match is None:
                out.append(token)
                words += 1
                index += 1
                continue
            if token[0].isupper():
                match = match[0].upper() + match[1:]
            out.append(match)
            words += width
            known += width
            index = span
        coverage = round(known / words, 3) if words else 1.0
        return Translation(_unmask("".join(out), kept), coverage, tuple(kept))


def _longest(tokens: list[str], start: int, book: Mapping[str, str]) -> tuple[str | None, int, int]:
    """The longest phrase at ``start``: (translation, index after it, words in it)."""
    best: tuple[str | None, int, int] = (None, start + 1, 1)
    words: list[str] = []
    index = start
    while index < len(tokens) and len(words) < MAX_PHRASE_WORDS:
        token = tokens[index]
        if token.isspace():
            index += 1
            continue
        if not (token[0].isalnum() or token[0] == "_"):
            break
        words.append(token.lower())
        index += 1
        found = book.get(" ".join(words))
        if found is not None:
            best = (found, index, len(words))
    return best


@lru_cache(maxsize=64)
def _term_patterns(glossary: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The glossary's terms, longest first, each with the pattern that finds it as a whole word."""
    terms = sorted({t for t in glossary if t.strip()}, key=len, reverse=True)
    return tuple((term, re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")) for term in terms)


def _mask(text: str, glossary: Sequence[str]) -> tuple[str, list[str]]:
    kept: list[str] = []
    for term, pattern in _term_patterns(tuple(glossary)):
        if pattern.search(text):
            text = pattern.sub(chr(_MASK_BASE + len(kept)), text)
            kept.append(term)
    return text, kept


def _unmask(text: str, kept: list[str]) -> str:
    for index, term in enumerate(kept):
        text = text.replace(chr(_MASK_BASE + index), term)
    return text
