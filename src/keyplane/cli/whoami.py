"""``keyplane whoami``: who the current credential is, and what it may do."""

from __future__ import annotations

from keyplane.cli import output
from keyplane.cli.context import connect
from keyplane.cli.output import Format, KeyOpt, OutputOpt, field, roles_text, when


def whoami(key: KeyOpt = None, output_format: OutputOpt = Format.TABLE) -> None:
    """Show the principal behind the current credential, its organization and roles."""
    with connect(organization_required=False) as session:
        me = {**session.me, "credentialSource": session.credential.source}
    output.emit_one(
        me,
        output_format,
        [
            ("kind", field("kind")),
            ("name", field("name")),
            ("id", field("id")),
            ("organization", field("organizationId")),
            ("roles", roles_text),
            ("expires", when("expiresAt", "never")),
            ("credential from", field("credentialSource")),
        ],
        key,
    )
