"""How an API error becomes a CLI error: the message, the exit code a script tests,
and a hint that says what to do (which role holds a missing permission, which URL to
set). A server that gave no answer at all is ``keyplane.cli.errors.unreachable``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from keyplane.cli import errors
from keyplane.domain.roles import PERMISSIONS, Permission

if TYPE_CHECKING:
    from keyplane.cli import credentials
    from keyplane.client import ApiError

VALUES = {p.value for p in Permission}
MISSING_PERMISSION = "missing permission "  # the 403 message of servers before the field


class Caller(Protocol):
    """What a hint reads of the command's session (``keyplane.cli.context.Session``)."""

    me: Any  # the answer of GET /v1/self

    def describe(self) -> str: ...

    def lacks_workspace_roles(self) -> bool: ...

    def workspace_role_hint(self) -> str: ...


def permission_hint(
    message: str, session: Caller | None, body: Mapping[str, Any] | None = None
) -> str | None:
    """What the credential holds, and which roles hold the permission it lacks."""
    if session is None:
        return None
    held = ", ".join(
        f"{r['role']} on {r['entityType'].lower()} {r['entityId']}" for r in session.me["roles"]
    )
    hint = f"{session.describe()} holds {held or 'no role'}"
    missing = missing_permission(body or {}, message)
    if not missing:  # refused for another reason than a role (a policy): the message says
        return None
    rule = PERMISSIONS.get(Permission(missing)) if missing in VALUES else None
    if rule is None:
        return f"{hint}; ask an owner for a credential whose role allows this"
    needed = [f"at least {role}" for role in (rule.organization, rule.workspace) if role]
    if rule.deployment:
        needed.append(rule.deployment.value)
    return f"{hint}; {missing} needs {' or '.join(needed)}: ask an owner for such a token"


def missing_permission(body: Mapping[str, Any], message: str) -> str:
    """The permission a 403 names; "" when it names none.

    The body's ``missingPermission`` field says it; a server from before that field
    says it only in the message, ``missing permission <name>``.
    """
    field = body.get("missingPermission")
    if isinstance(field, str) and field:
        return field
    words = message.removeprefix(MISSING_PERMISSION).split()
    return words[0] if message.startswith(MISSING_PERMISSION) and words else ""


def explain(
    error: ApiError, credential: credentials.Credential | None, session: Caller | None
) -> errors.CliError:
    """The CLI error for an API error: same message, the exit code, and what to do."""
    status, message = error.status_code, error.message
    if not getattr(error, "from_keyplane", True):
        from keyplane.cli.credentials import server_url

        return errors.CliError(
            f"{server_url()} did not answer as a keyplane server (HTTP {status}, "
            "not a keyplane answer)",
            hint="set KEYPLANE_URL to the keyplane server's address, "
            "e.g. https://keyplane.example.com",
        )
    if status == 401:
        return errors.NotAuthenticated(
            message,
            hint=f"the credential came from {credential.source}: set it to a valid token"
            if credential
            else None,
        )
    if status == 403:
        return errors.PermissionDenied(
            message, hint=permission_hint(message, session, getattr(error, "body", {}))
        )
    if status == 404:
        hint = (
            session.workspace_role_hint() if session and session.lacks_workspace_roles() else None
        )
        return errors.NotFound(message, hint=hint)
    if status == 400:
        fields = "; ".join(
            f"{name}: {text}"
            for name, text in error.field_errors.items()
            if not _said(message, name, text)
        )
        return errors.UsageError(f"{message}{f' ({fields})' if fields else ''}")
    if status >= 500:
        return errors.CliError(
            f"the server failed: {message}",
            hint=f"give the server's operator the request id {error.request_id}",
        )
    return errors.CliError(message)


def _said(message: str, name: str, text: str) -> bool:
    """Whether a 400's message already says a field's error: it quotes it, or it is about
    that field itself (``conditions: …``), in more words than the field error."""
    return text in message or message.startswith(f"{name}: ")
