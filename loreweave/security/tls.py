"""TLS for the bus, from certificate files: the embedded server's ``tls`` block and the clients' context.

One setting (``LOREWEAVE_NATS_TLS_CERT`` / ``_KEY`` / ``_CA``) turns it on for a whole process:

- the embedded nats-server serves the certificate and key and requires TLS of every client;
- every client (:meth:`~loreweave.actors.runtime.Bus.connect`, the CLI commands, the metrics
  publisher) trusts only the CA file and checks the server's name against the certificate.

Clients still log in with their role's credential: TLS hides passwords and frames from the
network and proves the server's identity; it does not replace the users.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loreweave.protocol.errors import ConfigError

if TYPE_CHECKING:
    from loreweave.config import Settings

CERT_VAR = "LOREWEAVE_NATS_TLS_CERT"
KEY_VAR = "LOREWEAVE_NATS_TLS_KEY"
CA_VAR = "LOREWEAVE_NATS_TLS_CA"


@dataclass(frozen=True)
class BusTls:
    """The certificate files of the bus: the server's certificate and key, and the CA clients trust."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            missing = KEY_VAR if self.key is None else CERT_VAR
            raise ConfigError(missing, f"is needed with {CERT_VAR if self.key is None else KEY_VAR}: "
                              "the server's certificate and its key go together")

    @classmethod
    def from_settings(cls, settings: Settings) -> BusTls:
        """The files ``LOREWEAVE_NATS_TLS_CERT``, ``_KEY`` and ``_CA`` name."""
        return cls(settings.nats_tls_cert, settings.nats_tls_key, settings.nats_tls_ca)

    @property
    def serves(self) -> bool:
        """Whether an embedded server runs with TLS (a certificate and key are set)."""
        return self.cert is not None

    def server_block(self) -> dict[str, Any] | None:
        """The nats-server ``tls`` block (every client must speak TLS), or None without a certificate.

        Raises:
            ConfigError: naming the variable whose file cannot be read or does not match.
        """
        if self.cert is None or self.key is None:
            return None
        cert, key = _readable(self.cert, CERT_VAR), _readable(self.key, KEY_VAR)
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        except ssl.SSLError as exc:
            raise ConfigError(CERT_VAR, f"{cert} with the key {key} is not a usable PEM certificate "
                              f"and key pair ({exc.reason or exc})") from None
        return {"cert_file": str(cert), "key_file": str(key), "timeout": 5}

    def client_context(self) -> ssl.SSLContext | None:
        """A client context trusting only the CA file (server name checked), or None without a CA.

        Raises:
            ConfigError: naming ``LOREWEAVE_NATS_TLS_CA`` when the file is not a PEM certificate.
        """
        if self.ca is None:
            return None
        return client_context(self.ca)


def client_context(ca: Path) -> ssl.SSLContext:
    """An SSL context that trusts only the certificates in ``ca`` and checks the server's name.

    Raises:
        ConfigError: naming ``LOREWEAVE_NATS_TLS_CA`` when the file cannot be read or holds no certificate.
    """
    path = _readable(ca, CA_VAR)
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(path))
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(CA_VAR, f"{path} is not a PEM CA certificate ({exc})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def configured_tls() -> BusTls:
    """The TLS files of this process's environment (``LOREWEAVE_NATS_TLS_*``); empty when unset."""
    from loreweave.config import load_settings

    return BusTls.from_settings(load_settings())


def tls_options(context: ssl.SSLContext | None = None) -> dict[str, Any]:
    """nats-py ``connect`` options for TLS with ``context`` (default: from ``LOREWEAVE_NATS_TLS_CA``).

    The client opens TLS before the server says anything (``tls_handshake_first``): a password is
    never sent in clear to a server, or a man in the middle, that does not offer TLS. Empty when
    there is no context (no TLS).
    """
    if context is None:
        context = configured_tls().client_context()
    return {} if context is None else {"tls": context, "tls_handshake_first": True}


def is_tls_failure(error: BaseException | str) -> bool:
    """Whether a connection error is a TLS refusal (an untrusted or misnamed certificate, no TLS)."""
    text = str(error).lower()
    return isinstance(error, ssl.SSLError) or any(
        mark in text for mark in ("certificate verify failed", "[ssl:", "tls required", "secure connection")
    )


def _readable(path: Path, var: str) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise ConfigError(var, f"{resolved} is not a readable file")
    return resolved
