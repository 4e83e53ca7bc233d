"""Errors of the knowledge base: each names the field and the reason."""

from __future__ import annotations

from loreweave.protocol.errors import LoreweaveError


class KnowledgeBaseError(LoreweaveError):
    """A knowledge-base call was refused: bad input, unknown world, missing model...

    ``code`` is a short machine-readable reason that request/reply handlers put in
    their error replies (``invalid``, ``unknown_world``, ``not_found``, ``unavailable``).
    """

    code: str = "invalid"

    def __init__(self, field: str, reason: str, code: str | None = None) -> None:
        super().__init__(field, reason)
        if code is not None:
            self.code = code


class UnknownWorldError(KnowledgeBaseError):
    """A world id that the knowledge base has never seen."""

    code = "unknown_world"

    def __init__(self, world: str) -> None:
        super().__init__(
            "world", f"unknown world {world!r} (ingest lore into it first: loreweave kb ingest PATH --world {world})"
        )


class NotFoundError(KnowledgeBaseError):
    """A named thing (concept, document) does not exist."""

    code = "not_found"
