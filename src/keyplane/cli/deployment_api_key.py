"""``keyplane deployment api-key``: legacy Deployment API keys, and their migration to tokens."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import DeploymentOpt, OrgOpt, Session, WorkspaceOpt, connect
from keyplane.cli.errors import CliError, UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when

Json = dict[str, Any]
app = group(
    help="Deployment API keys (deprecated: use deployment API tokens).", no_args_is_help=True
)
DEPRECATED = (
    "deployment API keys are deprecated: prefer `keyplane deployment token create`, "
    "and move existing keys with `keyplane deployment api-key migrate`"
)
COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("deployment", field("deploymentId")),
    ("last used", when("lastUsedAt", "never")),
    ("created", when("createdAt")),
    ("created by", field("createdBy")),
]
KeyIdArg = Annotated[str, typer.Argument(help="The key ID.", show_default=False)]
NameOpt = Annotated[str, typer.Option("--name", help="A name that says where it is used.")]
DescriptionOpt = Annotated[str, typer.Option("--description", help="What the key is for.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Migrate without asking (needed with no terminal).")
]


@app.command()
def create(
    name: NameOpt,
    description: DescriptionOpt = "",
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a Deployment API key; its secret is shown once."""
    with connect(organization_id) as session:
        key = session.client.create_api_key(
            session.org_id, session.deployment_id(deployment_id), name, description
        )
    output.warn(DEPRECATED)
    output.emit_one(key, output_format, [*COLUMNS[:3], ("secret", field("secret"))])
    if output_format is Format.TABLE:
        output.note(
            "The secret is shown once: store it with the key ID in your CI secret store "
            "as ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET."
        )


@app.command("list")
def list_keys(
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List a deployment's API keys."""
    with connect(organization_id) as session:
        keys = session.client.list_api_keys(session.org_id, session.deployment_id(deployment_id))
    output.emit_list(keys, output_format, COLUMNS, "no API keys on this deployment")


@app.command()
def delete(
    key_id: KeyIdArg,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a key: it, and every access token issued for it, stop working at once."""
    with connect(organization_id) as session:
        session.client.delete_api_key(session.org_id, session.deployment_id(deployment_id), key_id)
    output.emit_done(output_format, {"id": key_id, "deleted": True}, f"deleted API key {key_id}")


@app.command()
def migrate(
    deployment_id: Annotated[
        str | None, typer.Option("--deployment-id", help="Only this deployment's keys.")
    ] = None,
    workspace_id: WorkspaceOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Replace each key with a Deployment API token holding the same rights.

    Shows the plan first; once you confirm (or with --yes) the server creates one
    DEPLOYMENT_ADMIN token per key on the key's deployment and deletes the keys, all in
    one step, and the new token values are printed once. Nothing changes before that:
    not on --dry-run, not when you decline, and not without a terminal to ask on
    unless --yes is given. Keys already migrated are gone, so a second run finds none.
    """
    if deployment_id and workspace_id:
        raise UsageError("pass --deployment-id or --workspace-id, not both")
    where = Selection(workspace_id, deployment_id)
    with connect(organization_id) as session:
        plan = where.migrate(session, dry_run=True)
        if not plan:
            output.note("no deployment API keys to migrate")
            if output_format is not Format.TABLE:
                output.emit_data([], output_format)
            return
        _show_plan(plan, dry_run)
        if dry_run:
            if output_format is not Format.TABLE:
                output.emit_data([_plan_item(step) for step in plan], output_format)
            return
        if not yes:
            _confirm(len(plan))
        # Exactly the keys shown: if one changed meanwhile, the server changes nothing.
        done = where.migrate(session, dry_run=False, key_ids=[step["keyId"] for step in plan])
    _show_new_tokens(done, output_format)


@dataclass(frozen=True)
class Selection:
    """Which keys ``migrate`` acts on: a workspace's, a deployment's, or all it may."""

    workspace_id: str | None
    deployment_id: str | None

    def migrate(
        self, session: Session, *, dry_run: bool, key_ids: list[str] | None = None
    ) -> list[Json]:
        answer = session.client.migrate_api_keys(
            session.org_id,
            dry_run=dry_run,
            workspace_id=self.workspace_id,
            deployment_id=self.deployment_id,
            key_ids=key_ids,
        )
        steps: list[Json] = answer["migrations"]
        return steps


PLAN_FIELDS = ("keyId", "keyName", "deploymentId", "tokenName", "role")


def _plan_item(step: Json) -> Json:
    return {name: step[name] for name in PLAN_FIELDS}


def _show_plan(plan: list[Json], dry_run: bool) -> None:
    verb = "would replace" if dry_run else "will replace"
    for step in plan:
        output.note(
            f"{verb} API key {step['keyId']} ({step['keyName']!r}) on deployment "
            f"{step['deploymentId']} with a Deployment API token holding {step['role']}"
        )
    if dry_run:
        output.note(f"dry run: nothing changed ({len(plan)} key(s) to migrate)")


def _confirm(count: int) -> None:
    """Return once the user agreed; raise, with nothing changed, otherwise."""
    if not sys.stdin.isatty():
        raise UsageError(
            "nothing changed: the migration needs confirming, and there is no terminal to ask on",
            hint="look at the plan above, then run the command again with --yes",
        )
    question = f"Replace these {count} API key(s) with tokens and delete the keys now?"
    try:
        agreed = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        agreed = False
    if not agreed:
        raise CliError("nothing changed: the migration was declined; the keys are kept")


def _show_new_tokens(migrated: list[Json], output_format: Format) -> None:
    columns: list[Column] = [
        ("key", field("keyId")),
        ("deployment", field("deploymentId")),
        ("new token id", field("tokenId")),
        ("token", field("token")),
    ]
    output.emit_list(migrated, output_format, columns, "")
    output.note(
        f"replaced {len(migrated)} API key(s) with Deployment API tokens; the keys are gone"
    )
    output.warn(
        "the token values are shown once: put each in the CI secret store as ASTRO_API_TOKEN "
        "(in place of ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET)"
    )
