"""``keyplane admin sso``: the operator verifies which organization owns an email domain.

An organization's SSO connection may claim any domain, but a claim routes nobody until
it is verified here: a provider an organization controls can vouch for any address, so
only a domain that organization owns may be sent to it. The operator checks ownership
the way the installation's policy says (a DNS record, a contract, being the same
company) and records it; the audit trail keeps each verification as an operator's
``sso.domain.verify`` (``.unverify``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from keyplane.cli.apps import group
from keyplane.cli.operator import audited_unit, reading, record
from keyplane.cli.output import Format, console, emit_data

if TYPE_CHECKING:
    from keyplane.identity.models import SsoDomain

app = group(help="Email domains claimed by SSO connections: verify the organization owns one.")

DomainArg = Annotated[str, typer.Argument(help="The email domain, e.g. acme.com.")]
OrganizationOpt = Annotated[
    str, typer.Option("--organization", help="The organization's id or name.")
]
OutputOpt = Annotated[Format, typer.Option("--output", "-o", help="table, json or yaml.")]


@app.command("list")
def list_claims(
    domain: Annotated[str | None, typer.Argument(help="Only this domain.")] = None,
    output: OutputOpt = Format.TABLE,
) -> None:
    """Every domain claim: which organization's connection, and whether it is verified."""
    from keyplane.identity.sso import domain_claims

    with reading() as db:
        rows = [_row(claim, name) for claim, name in domain_claims(db, domain)]
    if output is Format.JSON:
        typer.echo(json.dumps(rows))
    elif output is not Format.TABLE:
        emit_data(rows, output)
    elif not rows:
        console(stderr=True).print("no domain is claimed" + (f" as {domain}" if domain else ""))
    for row in rows if output is Format.TABLE else []:
        state = f"verified {row['verifiedAt']}" if row["verifiedAt"] else "unverified"
        typer.echo(f"{row['domain']}  {row['organizationName']} ({row['organizationId']})  {state}")


@app.command("verify")
def verify(
    domain: DomainArg, organization: OrganizationOpt, output: OutputOpt = Format.TABLE
) -> None:
    """Verify that ORGANIZATION owns DOMAIN: its SSO connection's claim starts routing
    that domain's sign-ins (and, with enforce-SSO, turns their passwords off)."""
    _change("sso.domain.verify", domain, organization, output)


@app.command("unverify")
def unverify(
    domain: DomainArg, organization: OrganizationOpt, output: OutputOpt = Format.TABLE
) -> None:
    """Take a verification back: DOMAIN signs in with passwords again."""
    _change("sso.domain.unverify", domain, organization, output)


def _change(action: str, domain: str, organization: str, output: Format) -> None:
    from keyplane.identity import sso

    change = sso.verify_domain if action.endswith(".verify") else sso.unverify_domain
    with audited_unit() as db:
        claim = change(db, domain, organization)
        record(db, action, claim.organization_id, f"keyplane admin sso {action[11:]}",
               ("sso_connection", claim.connection_id), {"domain": claim.domain})  # fmt: skip
        row = _row(claim, None)
    if output is Format.JSON:
        typer.echo(json.dumps(row))
    elif output is not Format.TABLE:
        emit_data(row, output)
    else:
        state = "verified: it routes sign-ins" if row["verifiedAt"] else "unverified"
        typer.echo(f"{row['domain']}  {row['organizationId']}  {state}")


def _row(claim: SsoDomain, organization_name: str | None) -> dict[str, object]:
    row: dict[str, object] = {
        "domain": claim.domain,
        "organizationId": claim.organization_id,
        "connectionId": claim.connection_id,
        "verifiedAt": claim.verified_at.isoformat() if claim.verified_at else None,
    }
    if organization_name is not None:
        row["organizationName"] = organization_name
    return row
