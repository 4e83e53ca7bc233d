"""Finding the bus from the command line: LOREWEAVE_NATS_URL, or the one `loreweave up` started.

Each command connects as a role (an actor node for ``run``, a game server for ``publish``, a
designer for ``tail``...): with LOREWEAVE_NATS_CREDS when set, else with the user and password
in LOREWEAVE_NATS_URL, else with the role's credential in the embedded server's data dir.
"""

from __future__ import annotations

from pathlib import Path

from loreweave.config import Settings
from loreweave.protocol.errors import ConfigError
from loreweave.security.credentials import Credential, without_userinfo
from loreweave.security.store import AuthStore

URL_FILE = "nats.url"


def embedded_auth(settings: Settings) -> AuthStore:
    """The credentials of the embedded server of ``settings.data_dir``."""
    return AuthStore(settings.data_dir / "nats")


def record_embedded_url(settings: Settings, url: str) -> Path:
    """Write the URL of an embedded server (never its credentials) so other commands can find it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / URL_FILE
    path.write_text(without_userinfo(url) + "\n")
    return path


def forget_embedded_url(settings: Settings) -> None:
    """Remove the recorded URL when the embedded server stops."""
    (settings.data_dir / URL_FILE).unlink(missing_ok=True)


def with_wait(settings: Settings, wait_s: float | None) -> Settings:
    """``settings`` with ``--wait SECONDS`` (when given) as the NATS connect wait."""
    return settings if wait_s is None else settings.model_copy(update={"nats_connect_wait_s": wait_s})


def with_credentials(settings: Settings, url: str, role: str) -> str:
    """``url`` logged in as ``role``: LOREWEAVE_NATS_CREDS, else the URL's own user, else the
    embedded server's credential for the role (when ``url`` is not an external server's)."""
    if settings.nats_creds is not None:
        return Credential.read(settings.nats_creds).url(url)
    if settings.nats_url or "@" in url:
        return url
    auth = embedded_auth(settings)
    return auth.get(role).url(url) if auth.path(role).is_file() else url


def as_role(settings: Settings, url: str, role: str) -> str:
    """``url`` logged in as the embedded server's ``role`` instead, unless the login was configured."""
    if settings.nats_url or settings.nats_creds is not None:
        return url
    auth = embedded_auth(settings)
    return auth.get(role).url(url) if auth.path(role).is_file() else url


def recorded_nats_url(settings: Settings, role: str) -> str | None:
    """LOREWEAVE_NATS_URL, else the server a running ``loreweave up`` recorded, logged in as
    ``role``; None when there is neither."""
    if settings.nats_url:
        return with_credentials(settings, settings.nats_url, role)
    path = settings.data_dir / URL_FILE
    return with_credentials(settings, path.read_text().strip(), role) if path.is_file() else None


def client_nats_url(settings: Settings, role: str = "admin") -> str:
    """The server a client command should talk to, logged in as ``role``: print it only redacted.

    Raises:
        ConfigError: when neither LOREWEAVE_NATS_URL is set nor a `loreweave up` is running.
    """
    url = recorded_nats_url(settings, role)
    if url is not None:
        return url
    raise ConfigError(
        "LOREWEAVE_NATS_URL",
        f"is not set and no `loreweave up` is running here ({settings.data_dir / URL_FILE} not found)",
    )


def credential_lines(settings: Settings) -> list[str]:
    """How each role connects to the embedded server: the credential files (never their contents)."""
    auth = embedded_auth(settings)
    lines = ["loreweave: anonymous clients are refused; each role connects with its file (LOREWEAVE_NATS_CREDS):"]
    for credential in auth.credentials():
        worlds = f" (worlds {','.join(credential.worlds)})" if credential.worlds != ("*",) else ""
        lines.append(f"  {credential.name:<12} {credential.role:<12} {auth.path(credential.name)}{worlds}")
    if settings.nats_tls_cert is not None:
        ca = settings.nats_tls_ca or "(unset here)"
        lines.append(f"loreweave: the bus requires TLS; each client needs LOREWEAVE_NATS_TLS_CA={ca}")
    return lines
