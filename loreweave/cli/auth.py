"""``loreweave auth``: credentials of the embedded nats-server, accepted or refused without a restart."""

from __future__ import annotations

import click

from loreweave.cli.connection import credential_lines, embedded_auth
from loreweave.config import Settings, load_settings
from loreweave.security.store import AuthStore


def _reloaded(auth: AuthStore) -> str:
    if auth.reload():
        return "the running server accepts the change now"
    return "no embedded server runs here; the next `loreweave up` uses it"


def create_credential(settings: Settings, role: str, name: str, worlds: list[str]) -> tuple[str, str]:
    """Write credential ``name`` (a ``role`` scoped to ``worlds``), reload a running server; (path, note)."""
    auth = embedded_auth(settings)
    auth.ensure_defaults()
    path = auth.create(name, role, worlds)
    return str(path), _reloaded(auth)


def revoke_credential(settings: Settings, name: str) -> str:
    """Remove credential ``name`` and reload a running server; a note on what happened."""
    auth = embedded_auth(settings)
    auth.revoke(name)
    return _reloaded(auth)


@click.group("auth")
def auth_group() -> None:
    """Credentials of the embedded bus: one file per client, with a role's permissions."""


@auth_group.command("create")
@click.argument("role", type=click.Choice(["game-server", "designer"]))
@click.argument("name")
@click.option("--worlds", required=True, help="Comma-separated world ids the credential may use ('*': all).")
def create_command(role: str, name: str, worlds: str) -> None:
    """Write a credential file for a game server or designer NAME, limited to --worlds."""
    path, note = create_credential(load_settings(), role, name, worlds.split(","))
    click.echo(f"wrote {path} (mode 0600; {note}); connect with LOREWEAVE_NATS_CREDS={path}")


@auth_group.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Remove credential NAME: its clients are refused from now on."""
    note = revoke_credential(load_settings(), name)
    click.echo(f"revoked {name} ({note})")


@auth_group.command("list")
def list_command() -> None:
    """Show each credential's role, worlds and file (never its password)."""
    click.echo("\n".join(credential_lines(load_settings())[1:]) or "no credentials yet")
