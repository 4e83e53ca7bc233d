"""Embedded servers started when no external one is configured."""

from loreweave.embedded.nats import EmbeddedNats, free_port, nats_server_binary, nats_url
from loreweave.embedded.postgres import EmbeddedPostgres, database_dsn

__all__ = ["EmbeddedNats", "EmbeddedPostgres", "database_dsn", "free_port", "nats_server_binary", "nats_url"]
