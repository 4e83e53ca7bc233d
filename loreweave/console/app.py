"""The console's web application: server-rendered pages (Jinja2 on Starlette), one SSE stream,
and a small JavaScript module for the live parts. Nothing is built on the user's machine."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from loreweave.console.causality import missing_label
from loreweave.console.lore import (
    concept_timeline, document_of_chunk, list_concepts, list_documents, open_document, search_lore,
)
from loreweave.console.npcs import memory_owners, ranked_memories, reflections
from loreweave.console.operations import glance
from loreweave.console.state import ConsoleState
from loreweave.console.story import KINDS
from loreweave.protocol.errors import LoreweaveError

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE_S = 15.0
METHODS = ("hybrid", "vector", "text")
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def _sse(event: str, seq: int, data: Any) -> str:
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def create_app(state: ConsoleState) -> Starlette:
    """The console's Starlette application over ``state``."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["missing_label"] = missing_label

    def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        context.setdefault("world", state.world)
        context.setdefault("error", None)
        response = templates.TemplateResponse(request, template, context, status_code=status_code)
        # Lines come from players and models: nothing but the console's own files may run or load.
        response.headers["Content-Security-Policy"] = CSP
        return response

    async def story_page(request: Request) -> Response:
        items = [item for item in await state.story() if not item.context]
        ws = state.world_state
        return page(
            request, "story.html", section="story", items=items, seq=state.feed.seq, kinds=KINDS,
            context=state.feed.context.to_dict(),
            regions=sorted({*ws.region_names, *(i.region for i in items if i.region)}),
            npcs=sorted({*ws.npcs, *(i.npc for i in items if i.npc)}),
            players=sorted({i.player for i in items if i.player}),
        )

    async def story_api(request: Request) -> Response:
        try:
            before = int(request.query_params["before_us"]) if "before_us" in request.query_params else None
            limit = min(500, max(1, int(request.query_params.get("limit", "100"))))
        except ValueError:
            return JSONResponse({"error": {"field": "before_us/limit", "reason": "must be integers"}}, 400)
        items = [i.to_dict() for i in await state.story(limit, before) if not i.context]
        return JSONResponse({"items": items})

    async def stream(request: Request) -> Response:
        raw = request.headers.get("last-event-id") or request.query_params.get("since") or ""
        feed = state.feed
        # A page from before a restart of the console may name a later number: start from now.
        since = min(int(raw), feed.seq) if raw.isdigit() else feed.seq

        async def events() -> AsyncIterator[str]:
            async with feed.listen() as queue:
                yield "retry: 1000\n\n"
                yield _sse("context", feed.seq, feed.context.to_dict())
                last = since
                for seq, item in feed.since(since):
                    last = seq
                    if not item.context:
                        yield _sse("story", seq, item.to_dict())
                while True:
                    try:
                        event, seq, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        if not feed.is_listening(queue):
                            return
                        yield ": keep-alive\n\n"
                        continue
                    if event == "story":
                        if seq <= last or data.context:
                            continue
                        last = seq
                        yield _sse("story", seq, data.to_dict())
                    else:
                        yield _sse(event, seq, data)
                    if queue.empty() and not feed.is_listening(queue):
                        return

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def why_page(request: Request) -> Response:
        frame_id = request.path_params["frame_id"]
        tree = await state.causal_tree(frame_id)
        fragment = request.query_params.get("fragment") == "1"
        if tree is None:
            return page(request, "_tree.html" if fragment else "why.html", 404, section="story", tree=None, frame_id=frame_id)
        return page(request, "_tree.html" if fragment else "why.html", section="story", tree=tree, frame_id=frame_id)

    async def lore_page(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        method = request.query_params.get("method", "hybrid")
        hits: list[Any] = []
        error = None
        documents: list[Any] = []
        concepts: list[Any] = []
        try:
            if query:
                if state.kb is None:
                    raise LoreweaveError("kb", "the knowledge base is off here: install loreweave[kb]")
                hits = await search_lore(state.kb, query, state.world, method=method, k=8)
            documents = await list_documents(state.database.pool, state.world)
            concepts = await list_concepts(state.database.pool, state.world)
        except LoreweaveError as exc:
            error = str(exc)
        return page(request, "lore.html", section="lore", query=query, method=method, methods=METHODS, hits=hits,
                    documents=documents, concepts=concepts, error=error)

    async def document_page(request: Request) -> Response:
        try:
            document, chunks = await open_document(state.database.pool, state.world, int(request.path_params["doc"]))
        except LoreweaveError as exc:
            return page(request, "document.html", 404, section="lore", document=None, chunks=[], error=str(exc))
        return page(request, "document.html", section="lore", document=document, chunks=chunks,
                    chunk=request.query_params.get("chunk", ""))

    async def chunk_redirect(request: Request) -> Response:
        chunk = int(request.path_params["chunk"])
        doc = await document_of_chunk(state.database.pool, chunk)
        if doc is None:
            return Response("no such chunk", 404)
        return RedirectResponse(f"/lore/doc/{doc}?chunk={chunk}#chunk-{chunk}", 303)

    async def concept_page(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            if state.kb is None:
                raise LoreweaveError("kb", "the knowledge base is off here: install loreweave[kb]")
            history = await concept_timeline(state.kb, name, state.world)
        except LoreweaveError as exc:
            return page(request, "concept.html", 404, section="lore", history=None, name=name, error=str(exc))
        return page(request, "concept.html", section="lore", history=history, name=name)

    async def npcs_page(request: Request) -> Response:
        ws = state.world_state
        owners = await memory_owners(state.database, state.world)
        return page(request, "npcs.html", section="npcs", ws=ws, owners=owners,
                    ids=sorted({*ws.npcs, *owners}))

    async def npc_page(request: Request) -> Response:
        npc_id = request.path_params["npc_id"]
        ws = state.world_state
        npc = ws.npcs.get(npc_id)
        default_query = f"{ws.region_names.get(npc.region, npc.region)} {npc.role}" if npc else npc_id
        query = request.query_params.get("q", "").strip() or default_query
        memories: list[Any] = []
        thoughts: list[Any] = []
        error = None
        if state.kb is None:
            error = "the knowledge base is off here: install loreweave[kb]"
        else:
            try:
                memories = await ranked_memories(state.kb, state.world, npc_id, query)
                thoughts = await reflections(state.kb, state.world, npc_id)
            except LoreweaveError as exc:
                error = str(exc)
        lines = [i for _, i in state.feed.items if i.npc == npc_id][-10:]
        return page(request, "npc.html", section="npcs", npc=npc, npc_id=npc_id, ws=ws, query=query,
                    memories=memories, reflections=thoughts, lines=lines, error=error)

    async def ops_data() -> Any:
        return await glance(state.database.pool, state.world, live_per_s=state.feed.rate.rate(),
                            ops_bus=state.ops_bus, counters=state.counters)

    async def ops_page(request: Request) -> Response:
        return page(request, "ops.html", section="ops", g=await ops_data(), listeners=state.feed.listeners)

    async def root(request: Request) -> Response:
        return RedirectResponse("/story", 307)

    routes = [
        Route("/", root),
        Route("/story", story_page),
        Route("/api/story", story_api),
        Route("/api/stream", stream),
        Route("/why/{frame_id}", why_page),
        Route("/lore", lore_page),
        Route("/lore/doc/{doc:int}", document_page),
        Route("/lore/chunk/{chunk:int}", chunk_redirect),
        Route("/lore/concept/{name}", concept_page),
        Route("/npcs", npcs_page),
        Route("/npcs/{npc_id}", npc_page),
        Route("/ops", ops_page),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = state
    return app

