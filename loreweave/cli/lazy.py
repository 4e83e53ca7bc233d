"""A click group whose subcommands are imported only when used (heavy ones pull in Ray, torch...)."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click


class LazyGroup(click.Group):
    """Adds subcommands given as ``{"name": "module:attribute"}``, imported on first use."""

    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        available = {
            name
            for name, target in self.lazy_subcommands.items()
            if importlib.util.find_spec(target.partition(":")[0]) is not None
        }
        return sorted({*super().list_commands(ctx), *available})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            module_name, _, attribute = self.lazy_subcommands[cmd_name].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise click.ClickException(
                    f"'{cmd_name}' is not available: {exc} (install loreweave with all extras)"
                ) from None
            command: click.Command = getattr(module, attribute)
            return command
        return super().get_command(ctx, cmd_name)
