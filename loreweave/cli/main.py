"""The ``loreweave`` command. Each subcommand is a thin call of a library function."""

from __future__ import annotations

import logging
import sys

import click

from loreweave.cli.lazy import LazyGroup
from loreweave.config import load_settings
from loreweave.protocol.errors import LoreweaveError

LAZY_COMMANDS = {
    "up": "loreweave.cli.up:up_command",
    "publish": "loreweave.cli.bus_commands:publish_command",
    "tail": "loreweave.cli.bus_commands:tail_command",
    "request": "loreweave.cli.request:request_command",
    "schemas": "loreweave.cli.schemas_commands:schemas_group",
    "run": "loreweave.cli.world:run_command",
    "simulate": "loreweave.cli.world:simulate_command",
    "db": "loreweave.cli.db:db_group",
    "history": "loreweave.cli.db:history_command",
    "kb": "loreweave.cli.kb:kb_group",
    "serve": "loreweave.cli.serve:serve_group",
    "ops": "loreweave.cli.ops:ops_group",
    "auth": "loreweave.cli.auth:auth_group",
    "console": "loreweave.cli.console:console_command",
}


@click.group(cls=LazyGroup, lazy_subcommands=LAZY_COMMANDS)
@click.version_option(package_name="loreweave")
def cli() -> None:
    """Loreweave: a runtime for AI-driven living game worlds."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns Loreweave errors into one clear line and exit code 2."""
    try:
        cli.main(args=argv, prog_name="loreweave", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LoreweaveError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
