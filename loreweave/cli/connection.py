"""Finding the bus from the command line: LOREWEAVE_NATS_URL, or the one `loreweave up` started."""

from __future__ import annotations

from pathlib import Path

from loreweave.config import Settings
from loreweave.protocol.errors import ConfigError

URL_FILE = "nats.url"


def record_embedded_url(settings: Settings, url: str) -> Path:
    """Write the URL of an embedded server so other commands on this machine can find it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / URL_FILE
    path.write_text(url + "\n")
    return path


def forget_embedded_url(settings: Settings) -> None:
    """Remove the recorded URL when the embedded server stops."""
    (settings.data_dir / URL_FILE).unlink(missing_ok=True)


def with_wait(settings: Settings, wait_s: float | None) -> Settings:
    """``settings`` with ``--wait SECONDS`` (when given) as the NATS connect wait."""
    return settings if wait_s is None else settings.model_copy(update={"nats_connect_wait_s": wait_s})


def client_nats_url(settings: Settings) -> str:
    """The server a client command should talk to.

    Raises:
        ConfigError: when neither LOREWEAVE_NATS_URL is set nor a `loreweave up` is running.
    """
    if settings.nats_url:
        return settings.nats_url
    path = settings.data_dir / URL_FILE
    if path.is_file():
        return path.read_text().strip()
    raise ConfigError(
        "LOREWEAVE_NATS_URL",
        f"is not set and no `loreweave up` is running here ({path} not found)",
    )
