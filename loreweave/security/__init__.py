"""Bus security with what NATS provides: roles as subject permissions, credential files, reloads, TLS."""

from loreweave.security.credentials import Credential, redact_url, without_userinfo
from loreweave.security.roles import GAME_SERVER_EVENTS, ROLES, Role, check_role, permissions
from loreweave.security.devcerts import make_dev_certificates
from loreweave.security.store import AuthStore
from loreweave.security.tls import BusTls, client_context, tls_options

__all__ = [
    "AuthStore", "BusTls", "Credential", "GAME_SERVER_EVENTS", "ROLES", "Role", "check_role", "client_context",
    "make_dev_certificates", "permissions", "redact_url", "tls_options", "without_userinfo",
]
