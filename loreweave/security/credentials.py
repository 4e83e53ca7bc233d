"""Credential files (one per NATS user, mode 0600) and URLs that never show a password."""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from loreweave.protocol.errors import ConfigError
from loreweave.security.roles import check_role, check_worlds, inbox_prefix

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_name(name: str) -> str:
    """A credential (and NATS user) name: letters, digits, ``-`` and ``_``.

    Raises:
        ConfigError: naming the field.
    """
    if not _NAME.fullmatch(name):
        raise ConfigError("name", f"{name!r} must be 1-64 letters, digits, '-' or '_'")
    return name


@dataclass(frozen=True)
class Credential:
    """One NATS user: its name, role, worlds (for scoped roles) and password."""

    name: str
    role: str
    password: str
    worlds: tuple[str, ...] = ("*",)

    @classmethod
    def new(cls, name: str, role: str, worlds: tuple[str, ...] | list[str] = ("*",)) -> Credential:
        """A credential with a fresh random password (256 bits)."""
        check_role(role)
        return cls(check_name(name), role, secrets.token_urlsafe(32), check_worlds(worlds))

    @classmethod
    def read(cls, path: Path) -> Credential:
        """Read a credential file.

        Raises:
            ConfigError: naming the file when it cannot be read or is not a credential.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(check_name(data["user"]), check_role(data["role"]).name, str(data["password"]),
                       check_worlds(data.get("worlds", ["*"])))
        except OSError as exc:
            raise ConfigError(str(path), f"cannot be read: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, ConfigError) as exc:
            raise ConfigError(str(path), f"is not a Loreweave credential file ({exc})") from None

    def write(self, path: Path) -> Path:
        """Write the file with mode 0600 (created so, never readable by others even for a moment)."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {"user": self.name, "role": self.role, "worlds": list(self.worlds), "password": self.password}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.chmod(path, 0o600)
        return path

    def connect_options(self) -> dict[str, Any]:
        """nats-py ``connect`` keyword arguments for this user (its own reply inboxes included)."""
        return {"user": self.name, "password": self.password, "inbox_prefix": inbox_prefix(self.name)}

    def url(self, url: str) -> str:
        """``url`` with this user's name and password in it (for clients that take only a URL)."""
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{quote(self.name, safe='')}:{quote(self.password, safe='')}@{host}"
        return urlunsplit(parts._replace(netloc=netloc))

    def __repr__(self) -> str:  # never a password in a log line or a traceback
        return f"Credential(name={self.name!r}, role={self.role!r}, worlds={self.worlds!r})"


def login_options(url: str, credentials: Path | None = None) -> dict[str, Any]:
    """nats-py ``connect`` options for the credential file, else for the user named in ``url``:
    the login and the user's own reply inboxes (``_INBOX.<user>``), which scoped roles need."""
    if credentials is not None:
        return Credential.read(credentials).connect_options()
    user = urlsplit(url.split(",")[0].strip()).username
    if user and _NAME.fullmatch(unquote(user)):
        return {"inbox_prefix": inbox_prefix(unquote(user))}
    return {}


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (and comma-separated server lists handled)."""
    return ",".join(_redact_one(part) for part in url.split(","))


def _redact_one(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "***"
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    # A lone token (nats://TOKEN@host) is a secret too.
    shown = f"{unquote(user)}:***" if has_password else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def without_userinfo(url: str) -> str:
    """``url`` with no user, password or token."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
