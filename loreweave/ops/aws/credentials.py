"""The stack's NATS credentials in Secrets Manager: the server's users made from them, and rotation.

The stack makes one secret per role its tasks connect as (``<stack>/nats/<role>``, see
:func:`~loreweave.ops.aws.desired.task_roles`); ECS hands each task its role's ``url``. The NATS
servers (not provisioned by the stack) must know the same users: :func:`nats_authorization`
renders their ``authorization`` block from the secrets, with each role's permissions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from loreweave.ops.aws.desired import nats_secret_name, task_roles
from loreweave.ops.aws.handlers.secrets import credential_value
from loreweave.ops.aws.resources import Clients
from loreweave.ops.aws.stack import StackSpec
from loreweave.protocol.errors import ConfigError
from loreweave.security.credentials import Credential
from loreweave.security.store import authorization


def stack_credentials(spec: StackSpec, aws: Clients) -> list[Credential]:
    """The credential in each of the stack's NATS secrets (needs ``secretsmanager:GetSecretValue``).

    Raises:
        ConfigError: naming a secret that does not exist yet (run ``ops apply`` first).
    """
    client = aws("secretsmanager")
    found = []
    for role in task_roles(spec):
        name = nats_secret_name(spec, role)
        try:
            value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
        except client.exceptions.ResourceNotFoundException:
            raise ConfigError(name, "no such secret: `loreweave ops apply` makes it") from None
        found.append(Credential(value["user"], value["role"], value["password"], tuple(value.get("worlds", ["*"]))))
    return found


def nats_authorization(spec: StackSpec, aws: Clients) -> str:
    """The ``authorization`` block (nats-server config, JSON syntax) of the stack's task roles.

    It holds passwords: write it only to the servers' config (mode 0600), never to a log.
    """
    return "authorization: " + json.dumps(authorization(stack_credentials(spec, aws)), indent=2) + "\n"


def write_nats_authorization(spec: StackSpec, aws: Clients, path: Path) -> Path:
    """Write :func:`nats_authorization` to ``path``, created with mode 0600; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(nats_authorization(spec, aws))
    os.chmod(path, 0o600)
    return path


def rotate_nats_credential(spec: StackSpec, aws: Clients, role: str) -> str:
    """Give ``role`` a new random password in its secret; return the new secret version's id.

    The old password stays valid on the servers until their config changes: put the new
    :func:`nats_authorization` on them and reload, then start new tasks (``aws ecs
    update-service --force-new-deployment``), which read the new version.

    Raises:
        ConfigError: for a role none of the stack's tasks connects as.
    """
    if role not in task_roles(spec):
        raise ConfigError("role", f"{role!r} is not a role of the stack's tasks ({', '.join(task_roles(spec))})")
    value = credential_value(role, spec.backing.nats_url)
    put = aws("secretsmanager").put_secret_value(SecretId=nats_secret_name(spec, role), SecretString=json.dumps(value))
    return str(put["VersionId"])

