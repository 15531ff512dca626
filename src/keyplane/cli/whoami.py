"""``keyplane whoami``: who the current credential is, and what it may do."""

from __future__ import annotations

from keyplane.cli import output
from keyplane.cli.context import Json, connect
from keyplane.cli.output import Column, Format, KeyOpt, OutputOpt, field, roles_text, when

KEY_KIND = "DEPLOYMENT_KEY"
CLAIMS_SHOWN = ("repository", "ref", "environment", "sub")


def whoami(key: KeyOpt = None, output_format: OutputOpt = Format.TABLE) -> None:
    """Show the principal behind the current credential, its organization and roles."""
    with connect(organization_required=False) as session:
        me = {**session.me, "credentialSource": session.credential.source}
        identity = session.workload_identity
    expiry: list[Column] = [("expires", when("expiresAt", "never"))]
    if me["kind"] == KEY_KIND:
        # The key never expires; what /v1/self's expiresAt gives is the expiry of the
        # access token it was exchanged for, which the CLI renews by itself.
        me = {**me, "expiresAt": None, "accessTokenExpiresAt": me.get("expiresAt")}
        expiry = [
            ("expires", lambda _: "never (a deployment API key is permanent)"),
            ("access token", when("accessTokenExpiresAt")),
        ]
    if identity is not None:
        expiry = [("access token expires", when("expiresAt"))]
    columns: list[Column] = [
        ("kind", field("kind")),
        ("name", field("name")),
        ("id", field("id")),
        ("organization", field("organizationId")),
        ("roles", roles_text),
        *expiry,
        *(_identity_columns(identity) if identity is not None else []),
        ("credential from", field("credentialSource")),
    ]
    output.emit_one(me, output_format, columns, key)
    if output_format is not Format.TABLE or key:
        return
    if me["kind"] == KEY_KIND:
        output.note(
            "the access token is exchanged from the key and renewed before it expires; "
            "the key works until it, or its deployment, is deleted"
        )
    elif identity is not None:
        output.note(
            "the access token was exchanged for this job's own ID token and is exchanged "
            "again when it expires; no secret is stored anywhere"
        )


def _identity_columns(identity: Json) -> list[Column]:
    """The identity, and the claims of the job's ID token that its conditions matched."""
    claims = identity.get("claims") or {}
    named: list[Column] = [
        ("workload identity", lambda _: f"{identity.get('name')} ({identity.get('id')})")
    ]
    return named + [
        ("subject" if claim == "sub" else claim, lambda _, c=claim: claims.get(c))
        for claim in CLAIMS_SHOWN
    ]
