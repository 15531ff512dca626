"""``keyplane whoami``: who the current credential is, and what it may do."""

from __future__ import annotations

from keyplane.cli import output
from keyplane.cli.context import connect
from keyplane.cli.output import Column, Format, KeyOpt, OutputOpt, field, roles_text, when

KEY_KIND = "DEPLOYMENT_KEY"


def whoami(key: KeyOpt = None, output_format: OutputOpt = Format.TABLE) -> None:
    """Show the principal behind the current credential, its organization and roles."""
    with connect(organization_required=False) as session:
        me = {**session.me, "credentialSource": session.credential.source}
    expiry: list[Column] = [("expires", when("expiresAt", "never"))]
    if me["kind"] == KEY_KIND:
        # The key never expires; what /v1/self's expiresAt gives is the expiry of the
        # access token it was exchanged for, which the CLI renews by itself.
        me = {**me, "expiresAt": None, "accessTokenExpiresAt": me.get("expiresAt")}
        expiry = [
            ("expires", lambda _: "never (a deployment API key is permanent)"),
            ("access token", when("accessTokenExpiresAt")),
        ]
    columns: list[Column] = [
        ("kind", field("kind")),
        ("name", field("name")),
        ("id", field("id")),
        ("organization", field("organizationId")),
        ("roles", roles_text),
        *expiry,
        ("credential from", field("credentialSource")),
    ]
    output.emit_one(me, output_format, columns, key)
    if me["kind"] == KEY_KIND and output_format is Format.TABLE and not key:
        output.note(
            "the access token is exchanged from the key and renewed before it expires; "
            "the key works until it, or its deployment, is deleted"
        )
