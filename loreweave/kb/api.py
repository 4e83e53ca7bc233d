"""Request/reply handlers for the knowledge base over NATS: ``(request dict) -> reply dict``.

Replies are ``{"ok": True, ...}`` or ``{"ok": False, "error": {"code", "field", "reason"}}``;
a handler never raises for bad input, so one bad request cannot hurt the responder.
The runtime wires them to subjects (suggested: ``lw.kb.search``, ``lw.kb.context``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from loreweave.kb.context import prompt_context
from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.search import search
from loreweave.kb.store import KnowledgeBase
from loreweave.protocol.errors import LoreweaveError

logger = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]
SEARCH_SUBJECT = "lw.kb.search"
CONTEXT_SUBJECT = "lw.kb.context"

_SEARCH_FIELDS = {"query": str, "world": (str, type(None)), "k": int, "method": str}
_CONTEXT_FIELDS = {
    "query": str, "world": str, "owner": (str, type(None)), "lore_k": int, "memory_k": int, "events_k": int
}


def error_reply(exc: LoreweaveError) -> dict[str, Any]:
    """The reply for a refused request."""
    code = getattr(exc, "code", "invalid")
    return {"ok": False, "error": {"code": code, "field": exc.field, "reason": exc.reason}}


def _fields(request: object, allowed: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(request, Mapping):
        raise KnowledgeBaseError("request", f"must be a map, got {type(request).__name__}")
    for key, value in request.items():
        if key not in allowed:
            raise KnowledgeBaseError(str(key), f"is not a field of this request ({', '.join(allowed)})")
        if isinstance(value, bool) or not isinstance(value, allowed[key]):
            raise KnowledgeBaseError(str(key), f"has the wrong type {type(value).__name__}")
    for key in required:
        if key not in request:
            raise KnowledgeBaseError(key, "is required")
    return dict(request)


async def handle_search(kb: KnowledgeBase, request: Mapping[str, Any]) -> dict[str, Any]:
    """Answer ``{"query", "world"?, "k"?, "method"?}`` with ``{"ok": True, "hits": [...]}``."""
    try:
        fields = _fields(request, _SEARCH_FIELDS, ("query",))
        hits = await search(kb, **fields)
    except LoreweaveError as exc:
        return error_reply(exc)
    except Exception:  # the reply must go out whatever failed; the log keeps the trace
        logger.exception("kb search failed")
        return {"ok": False, "error": {"code": "internal", "field": "request", "reason": "search failed"}}
    return {"ok": True, "hits": [hit.to_dict() for hit in hits]}


async def handle_context(kb: KnowledgeBase, request: Mapping[str, Any]) -> dict[str, Any]:
    """Answer ``{"world", "query", "owner"?, ...}`` with ``{"ok": True, "context": {...}}``."""
    try:
        fields = _fields(request, _CONTEXT_FIELDS, ("world", "query"))
        context = await prompt_context(kb, fields.pop("world"), fields.pop("query"), **fields)
    except LoreweaveError as exc:
        return error_reply(exc)
    except Exception:
        logger.exception("kb context failed")
        return {"ok": False, "error": {"code": "internal", "field": "request", "reason": "context failed"}}
    return {"ok": True, "context": context.to_dict()}


def search_handler(kb: KnowledgeBase) -> Handler:
    """A ``(request dict) -> reply dict`` search handler bound to ``kb``."""

    async def handler(request: Mapping[str, Any]) -> dict[str, Any]:
        return await handle_search(kb, request)

    return handler


def context_handler(kb: KnowledgeBase) -> Handler:
    """A ``(request dict) -> reply dict`` prompt-context handler bound to ``kb``."""

    async def handler(request: Mapping[str, Any]) -> dict[str, Any]:
        return await handle_context(kb, request)

    return handler
