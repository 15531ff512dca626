"""What every API command starts from: the server, the credential, and who it is.

:func:`connect` resolves the credential (DESIGN §5), asks ``/v1/self`` who it belongs
to, warns when it expires soon, and turns every API error raised inside the ``with``
block into a :class:`CliError` that says what to do (:mod:`keyplane.cli.explain`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keyplane.cli import errors, output
from keyplane.cli.errors import unreachable
from keyplane.cli.explain import explain
from keyplane.domain.roles import (
    Level,
    Role,
    implied_in_every_workspace,
)

if TYPE_CHECKING:  # the SDK (and its HTTP stack) is imported when a command connects
    from keyplane.cli import credentials
    from keyplane.client import KeyplaneClient

Json = dict[str, Any]
EXPIRY_WARNING = timedelta(days=7)
EMPTY_HINT = "check the ids and keys on the command line (an unset variable in a script?)"
SCOPE_OF_KIND = {
    "ORGANIZATION_TOKEN": "organization",
    "WORKSPACE_TOKEN": "workspace",
    "DEPLOYMENT_TOKEN": "deployment",
}

OrgOpt = Annotated[
    str | None,
    typer.Option(
        "--organization-id", help="Organization to act in (default: the credential's own)."
    ),
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option("--workspace-id", help="Workspace (default: a Workspace token's own)."),
]
DeploymentOpt = Annotated[
    str | None,
    typer.Option("--deployment-id", help="Deployment (default: a Deployment token's own)."),
]
DeploymentNameOpt = Annotated[
    str | None,
    typer.Option("--deployment-name", "-n", help="Select the deployment by name (unique)."),
]
NameInWorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace-id", help="Look --deployment-name up here.")
]


@dataclass
class Session:
    client: KeyplaneClient
    credential: credentials.Credential
    me: Json  # the answer of GET /v1/self
    org_id: str

    @property
    def kind(self) -> str:
        return str(self.me["kind"])

    @property
    def workload_identity(self) -> Json | None:
        """``/v1/self``'s ``workloadIdentity`` for a token exchanged by one, else None."""
        found = self.me.get("workloadIdentity")
        return found if isinstance(found, dict) else None

    def own(self, level: str) -> str | None:
        """The id of the entity this credential is scoped to at ``level``, if any."""
        scope = SCOPE_OF_KIND.get(self.kind, "").upper()
        if self.kind == "DEPLOYMENT_KEY":  # a deployment API key acts on its deployment
            scope = "DEPLOYMENT"
        if self.workload_identity and len(self.me["roles"]) == 1:
            scope = self.me["roles"][0]["entityType"]  # its one role, as a token's
        if scope != level:
            return None
        return next((r["entityId"] for r in self.me["roles"] if r["entityType"] == level), None)

    def workspace_id(self, given: str | None) -> str:
        """``--workspace-id``, else the workspace of a Workspace or Deployment token."""
        if given:
            return given
        if own := self.own("WORKSPACE"):
            return own
        if deployment := self.own("DEPLOYMENT"):
            return str(self.client.get_deployment(self.org_id, deployment)["workspaceId"])
        raise errors.UsageError(
            f"this command acts on one workspace: pass --workspace-id ({self.describe()} "
            "is not tied to one workspace)",
            hint="`keyplane workspace list` shows the workspaces you can see",
        )

    def deployment_id(self, given: str | None, how: str = "pass --deployment-id") -> str:
        """``--deployment-id``, else the deployment of a Deployment token; never a guess.
        ``how`` says how to name one, in the message when there is none."""
        if given:
            return given
        if own := self.own("DEPLOYMENT"):
            return own
        raise errors.UsageError(
            f"this command acts on one deployment: {how} ({self.describe()} "
            "is not tied to one deployment)",
            hint="`keyplane deployment list` shows the deployments you can see",
        )

    def describe(self) -> str:
        """E.g. ``the Workspace token 'ci'``, for messages."""
        if self.kind == "DEPLOYMENT_KEY":
            return f"the deployment API key {self.me['name']!r}"
        if identity := self.workload_identity:
            return f"the workload identity {identity.get('name', self.me['name'])!r}"
        kind = self.kind.replace("_TOKEN", "").capitalize()
        noun = f"the {kind} token" if self.kind in SCOPE_OF_KIND else f"the {self.kind.lower()}"
        return f"{noun} {self.me['name']!r}"

    def lacks_workspace_roles(self) -> bool:
        """An Organization token that can see no workspace, as DESIGN §2 has it: no
        workspace or deployment role, and no organization role that implies one in
        every workspace (the domain's rule says which does)."""
        if self.kind != "ORGANIZATION_TOKEN":
            return False
        levels = {r["entityType"] for r in self.me["roles"]}
        if levels - {Level.ORGANIZATION.value}:
            return False
        return not any(
            implied_in_every_workspace(Level.ORGANIZATION, r["role"]) for r in self.me["roles"]
        )

    def workspace_role_hint(self) -> str:
        return (
            "this Organization token has no role in any workspace: add one with "
            f"`keyplane workspace token add {self.me['id']} --workspace-id <WORKSPACE_ID> "
            f"--role {Role.WORKSPACE_MEMBER}` (run it with an owner's credential)"
        )


@contextmanager
def connect(
    organization_id: str | None = None, *, organization_required: bool = True
) -> Iterator[Session]:
    """A :class:`Session` for one command; API errors inside become CLI errors.

    A command that does not act inside one organization passes
    ``organization_required=False``; its session's ``org_id`` may then be empty.
    """
    from keyplane.cli import credentials
    from keyplane.client import ApiError, EmptySegment, KeyplaneClient, ServerUnreachable

    credential: credentials.Credential | None = None
    session: Session | None = None
    try:
        # Inside the try: resolving may itself call the server (a key pair exchange).
        credential = credentials.resolve()
        with KeyplaneClient(credentials.server_url(), credential.bearer) as client:
            me = client.get_self()
            warn_if_deprecated(client.last_headers)
            org_id = organization_id or me.get("organizationId") or ""
            if not org_id and organization_required:
                raise errors.UsageError(
                    "this command acts in one organization: pass --organization-id",
                    hint="`keyplane organization list` shows the ones you can see",
                )
            session = Session(client, credential, me, org_id)
            warn_if_expiring(session)
            yield session
    except ApiError as error:
        raise explain(error, credential, session) from None
    except ServerUnreachable as error:
        raise unreachable(error) from None
    except EmptySegment as error:
        raise errors.UsageError(f"{error}: nothing was sent", hint=EMPTY_HINT) from None


def warn_if_deprecated(headers: Mapping[str, str]) -> None:
    """One line when the server says the credential is deprecated (a deployment API key)."""
    if "deprecation" not in headers:
        return
    sunset = headers.get("sunset")
    output.warn(
        "deployment API keys are deprecated"
        + (f" and stop working on {sunset}" if sunset else "")
        + ": replace them with deployment API tokens, `keyplane deployment api-key migrate`"
    )


def warn_if_expiring(session: Session) -> None:
    expires = session.me.get("expiresAt")
    if not expires or session.kind not in SCOPE_OF_KIND:
        return  # short-lived access tokens (keys, logins) are renewed, not rotated
    when = datetime.fromisoformat(expires)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    left = when - datetime.now(UTC)
    if left > EXPIRY_WARNING:
        return
    scope = SCOPE_OF_KIND.get(session.kind, "organization")
    days = max(0, round(left.total_seconds() / 86400))
    output.warn(
        f"the API token {session.me['name']!r} in {session.credential.source} expires on "
        f"{when:%Y-%m-%d %H:%M} UTC (in {days} day{'s' if days != 1 else ''}): rotate it with "
        f"`keyplane {scope} token rotate {session.me['id']}` and update your secret store"
    )
