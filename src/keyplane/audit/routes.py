"""``GET /v1/organizations/{orgId}/audit-logs``: a page of events, or all of them as JSON lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator

from keyplane.audit import service
from keyplane.audit.schemas import AuditEventList, AuditEventOut
from keyplane.http.deps import CurrentPrincipal, DbSession, Paging, get_runtime
from keyplane.http.routing import APIRouter

router = APIRouter(prefix="/v1/organizations/{orgId}", tags=["audit"])
NDJSON = "application/x-ndjson"


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment and moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError("out of the range of dates once taken to UTC") from None


# A date (`2026-11-01`) or a time without an offset (`2026-11-01T08:00`) is taken as UTC.
Moment = Annotated[datetime | None, AfterValidator(_as_utc)]
ZONE = " A date or a time without an offset is UTC."


def audit_filter(
    since: Annotated[Moment, Query(description="From this time (inclusive)." + ZONE)] = None,
    until: Annotated[Moment, Query(description="Before this time." + ZONE)] = None,
    actorId: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="Exact, or a prefix: `token.*`.")
    ] = None,
    targetId: Annotated[str | None, Query(max_length=128)] = None,
) -> service.AuditFilter:
    return service.AuditFilter(since, until, actorId, action, targetId)


Filter = Annotated[service.AuditFilter, Depends(audit_filter)]


@router.get(
    "/audit-logs",
    response_model=AuditEventList,
    responses={200: {"content": {NDJSON: {}}, "description": "A page, or JSON lines"}},
)
def list_audit_logs(
    orgId: str,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    page: Paging,
    filters: Filter,
    format: Literal["json", "jsonl"] = "json",
) -> object:
    """Events of the organization, newest first. With ``format=jsonl`` or ``Accept:
    application/x-ndjson``: every matching event, oldest first, streamed as JSON lines
    (paging ignored), then one last line ``{"exportComplete": true, "count": N}``: an
    export without it was cut short and is incomplete."""
    if format == "jsonl" or NDJSON in request.headers.get("accept", ""):
        service.require_audit_read(db, principal, orgId)
        lines = service.export_lines(get_runtime(request).sessions, orgId, filters)
        return StreamingResponse(lines, media_type=NDJSON)
    rows, total = service.list_events(db, principal, orgId, filters, page)
    return AuditEventList(
        audit_logs=[AuditEventOut.of(row) for row in rows],
        offset=page.offset,
        limit=page.limit,
        total_count=total,
    )
