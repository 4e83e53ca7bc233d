"""Engines that misbehave on purpose, loaded by tier configs as ``tests.serve.fault_engines:Name``."""

from __future__ import annotations

from typing import AsyncIterator

from loreweave.serve.engines import Delta, Engine, EngineRequest


class BrokenEngine(Engine):
    """Fails every request, as a crashed model server would."""

    name = "broken"

    async def stream(self, request: EngineRequest) -> AsyncIterator[Delta]:
        raise RuntimeError("model server crashed")
        yield  # pragma: no cover - makes this an async generator
