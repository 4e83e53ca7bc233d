"""Engines behind one async interface: ``vllm``, ``scripted``, or any ``module:Class``."""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from loreweave.protocol.errors import ConfigError
from loreweave.serve.engines.base import Completion, Delta, Engine, EngineRequest
from loreweave.serve.engines.scripted import ScriptedEngine

__all__ = ["Completion", "Delta", "Engine", "EngineRequest", "ScriptedEngine", "build_engine", "engine_class"]


def engine_class(name: str) -> type[Engine]:
    """The engine class a tier names: ``scripted``, ``vllm`` or an import path ``pkg.mod:Class``.

    Raises:
        ConfigError: naming ``engine`` if it cannot be found.
    """
    if name == "scripted":
        return ScriptedEngine
    if name == "vllm":
        from loreweave.serve.engines.vllm import VllmEngine

        return VllmEngine
    module_name, _, attribute = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError("engine", f"cannot load {name!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise ConfigError("engine", f"{name!r} is not an Engine subclass")
    return cls


def build_engine(name: str, model: str | None, engine_args: Mapping[str, Any]) -> Engine:
    """Instantiate the named engine for a model."""
    return engine_class(name)(model, engine_args)
