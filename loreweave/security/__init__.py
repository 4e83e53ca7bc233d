"""Bus security with what NATS provides: roles as subject permissions, credential files, reloads."""

from loreweave.security.credentials import Credential, redact_url, without_userinfo
from loreweave.security.roles import GAME_SERVER_EVENTS, ROLES, Role, check_role, permissions
from loreweave.security.store import AuthStore

__all__ = [
    "AuthStore", "Credential", "GAME_SERVER_EVENTS", "ROLES", "Role", "check_role", "permissions", "redact_url",
    "without_userinfo",
]
