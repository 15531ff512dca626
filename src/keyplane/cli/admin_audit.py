"""``keyplane admin audit``: read, verify and prune the audit chain, on the database
directly. The operator reads every event, those in no organization's log too (unknown
credentials, refused sign-ins of unknown accounts, the operator's own commands)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from keyplane.audit import service
from keyplane.audit.schemas import AuditEventOut
from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.errors import UsageError
from keyplane.cli.operator import reading, server_database
from keyplane.cli.output import Column, Format, field, when
from keyplane.config import get_settings
from keyplane.db.models import Organization
from keyplane.db.session import make_sessionmaker

app = group(help="The audit trail: list every organization's events, verify, prune the chain.")
err = Console(stderr=True)

COLUMNS: list[Column] = [
    ("seq", field("seq")),
    ("time", when("occurredAt")),
    ("organization", lambda e: e["organizationId"] or "-"),
    ("actor", lambda e: f"{e['actor']['name']} ({e['actor']['kind']} {e['actor']['id'] or ''})"),
    ("action", field("action")),
    ("target", lambda e: f"{e['target']['type'] or ''} {e['target']['id'] or ''}".strip()),
    ("outcome", lambda e: f"{e['outcome']} {e['statusCode'] or ''}".strip()),
    ("ip", field("clientIp")),
]


@app.command("list")
def list_events(
    organization: Annotated[
        str | None, typer.Option(help="Only this organization's log (its id or name).")
    ] = None,
    no_organization: Annotated[
        bool, typer.Option("--no-organization", help="Only events in no organization's log.")
    ] = False,
    action: Annotated[str | None, typer.Option(help="Only this action, or `login.*`.")] = None,
    actor_id: Annotated[str | None, typer.Option("--actor-id")] = None,
    target_id: Annotated[str | None, typer.Option("--target-id")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601, UTC).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many, newest first.")] = 50,
    output_format: output.OutputOpt = Format.TABLE,
) -> None:
    """The newest events of every organization, or of one, or of none."""
    if organization and no_organization:
        raise UsageError("--organization and --no-organization exclude each other")
    filters = service.AuditFilter(
        since=_moment(since), actor_id=actor_id, action=action, target_id=target_id
    )
    with reading() as db:
        org_id = organization and (
            db.scalar(select(Organization.id).where(Organization.name == organization))
            or organization  # an id; events outlive a deleted organization
        )
        rows = service.operator_events(db, filters, limit, org_id, no_organization)
        events = [AuditEventOut.of(row).model_dump(mode="json", by_alias=True) for row in rows]
    output.emit_list(events, output_format, COLUMNS, "no matching events")


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since: not a date or time: {text}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@app.command()
def verify() -> None:
    """Check every stored event against its hash and its predecessor's; exit 1 if broken."""
    with reading() as db:
        result = service.verify(db)
    if result.broken:
        b = result.broken
        typer.echo(
            f"audit chain BROKEN at event {b.event_id} (seq {b.seq}): {b.reason}; "
            f"{result.checked} event(s) before it verified"
        )
        raise typer.Exit(1)
    typer.echo(
        f"audit chain intact: {result.checked} event(s) verified; "
        f"head seq {result.head_seq}, hash {result.head_hash}"
    )
    err.print(
        "Keep the head hash somewhere else (a ticket, a log store): it proves later that "
        "no recent events were cut off the end."
    )


@app.command()
def prune(
    retention_days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days (default: KEYPLANE_AUDIT_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Delete events older than the retention period, recording the prune in the chain."""
    settings = get_settings()
    days = retention_days or settings.audit_retention_days
    if days == 0:
        typer.echo("retention is 0 (keep forever): nothing pruned")
        return
    with server_database() as engine:
        deleted = service.prune(make_sessionmaker(engine), days)
    typer.echo(f"pruned {deleted} audit event(s) older than {days} days")
