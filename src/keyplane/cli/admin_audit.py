"""``keyplane admin audit``: verify and prune the audit chain, on the database directly."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from keyplane.audit import service
from keyplane.cli.apps import group
from keyplane.cli.operator import reading, server_database
from keyplane.config import get_settings
from keyplane.db.session import make_sessionmaker

app = group(help="The audit trail's hash chain: verify it, prune it.")
err = Console(stderr=True)


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
