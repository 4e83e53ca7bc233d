"""Embedded servers started when no external one is configured."""

from loreweave.embedded.nats import EmbeddedNats, free_port, nats_server_binary, nats_url

__all__ = ["EmbeddedNats", "free_port", "nats_server_binary", "nats_url"]
