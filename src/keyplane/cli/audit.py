"""``keyplane audit``: read the organization's audit trail (needs organization.audit:read)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, connect
from keyplane.cli.errors import CliError
from keyplane.cli.output import Column, Format, OutputOpt, field, when
from keyplane.client import ExportIncomplete

app = group(help="The audit trail: who did what, with which credential.", no_args_is_help=True)

COLUMNS: list[Column] = [
    ("time", when("occurredAt")),
    ("actor", lambda e: f"{e['actor']['name']} ({e['actor']['kind']} {e['actor']['id'] or ''})"),
    ("action", field("action")),
    ("target", lambda e: f"{e['target']['type'] or ''} {e['target']['id'] or ''}".strip()),
    ("outcome", lambda e: f"{e['outcome']} {e['statusCode'] or ''}".strip()),
    ("ip", field("clientIp")),
    ("request", field("requestId")),
]
SinceOpt = Annotated[str | None, typer.Option(help="From this time (ISO 8601).")]
UntilOpt = Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")]
ActorOpt = Annotated[str | None, typer.Option("--actor-id", help="Only this user or token.")]
ActionOpt = Annotated[
    str | None, typer.Option(help="Only this action; `token.*` for every token action.")
]
TargetOpt = Annotated[str | None, typer.Option("--target-id", help="Only events on this object.")]


def _filters(**given: Any) -> dict[str, Any]:
    names = {"actor_id": "actorId", "target_id": "targetId"}
    return {names.get(k, k): v for k, v in given.items() if v is not None}


@app.command("list")
def list_events(
    since: SinceOpt = None,
    until: UntilOpt = None,
    actor_id: ActorOpt = None,
    action: ActionOpt = None,
    target_id: TargetOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """The newest events, filtered."""
    filters = _filters(
        since=since, until=until, actor_id=actor_id, action=action, target_id=target_id
    )
    with connect(organization_id) as session:
        page = session.client.list_audit_logs(session.org_id, limit, **filters)
    output.emit_list(page["auditLogs"], output_format, COLUMNS, "no matching events")
    if output_format is Format.TABLE and page["totalCount"] > len(page["auditLogs"]):
        output.note(f"{len(page['auditLogs'])} of {page['totalCount']}: narrow with filters")


@app.command()
def export(
    since: SinceOpt = None,
    until: UntilOpt = None,
    actor_id: ActorOpt = None,
    action: ActionOpt = None,
    target_id: TargetOpt = None,
    to: Annotated[Path | None, typer.Option("--to", help="Write here (default: stdout).")] = None,
    organization_id: OrgOpt = None,
) -> None:
    """Every matching event as JSON lines, oldest first (for a SIEM or an archive)."""
    filters = _filters(
        since=since, until=until, actor_id=actor_id, action=action, target_id=target_id
    )
    with connect(organization_id) as session:
        lines = session.client.export_audit_logs(session.org_id, **filters)
        try:
            count = _write(lines, to)
        except ExportIncomplete as error:
            where = f"nothing was written to {to}" if to else "the lines above are incomplete"
            raise CliError(
                f"the export was cut short: {error}; {where}",
                hint="run it again; if it fails again, the server's log names the cause",
            ) from None
    output.note(f"exported {count} event(s){f' to {to}' if to else ''}")


def _write(lines: Iterator[str], to: Path | None) -> int:
    """Write every line; a file appears under its name only once the export is complete."""
    if to is None:
        count = 0
        for line in lines:
            sys.stdout.write(line + "\n")
            count += 1
        return count
    partial = to.with_name(to.name + ".partial")
    try:
        with partial.open("w") as sink:
            count = 0
            for line in lines:
                sink.write(line + "\n")
                count += 1
        partial.replace(to)
    finally:
        partial.unlink(missing_ok=True)
    return count
