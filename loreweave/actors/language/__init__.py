"""The language actor and its translator interface."""

from loreweave.actors.language.actor import Language, LanguageState, LanguageWorld
from loreweave.actors.language.translate import (
    PHRASEBOOKS,
    PhrasebookTranslator,
    Translation,
    Translator,
    base_locale,
)

__all__ = [
    "PHRASEBOOKS",
    "Language",
    "LanguageState",
    "LanguageWorld",
    "PhrasebookTranslator",
    "Translation",
    "Translator",
    "base_locale",
]
