"""Leak reports: GitHub's signed secret-scanning reports, and anyone's report of a value.

Neither route takes a credential. The scanner's report is authenticated by its
signature (:mod:`keyplane.hygiene.scanning`); failed signatures count against the
client's address like failed credentials. The public report is rate limited per
address and answers the same, in body and in work done, whether or not the value
was live. Revocation commits with the request; the audit events and the owners'
mail follow only if it committed, and the mail leaves after the answer, so neither
the scanner nor a reporter waits for (or learns from) the mail server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fastapi import BackgroundTasks, Request
from limits import RateLimitItemPerMinute
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from keyplane.audit import actions
from keyplane.audit.notes import note
from keyplane.audit.recorder import SUCCESS, EventDraft
from keyplane.config import Settings
from keyplane.db.unit import after_commit
from keyplane.domain.errors import InvalidInput, NotAuthenticated, TooManyRequests
from keyplane.http.deps import DbSession, client_ip
from keyplane.http.process import Process, process_of
from keyplane.http.routing import APIRouter
from keyplane.hygiene import leak_notices, leaks, schemas
from keyplane.hygiene.scanning import KEY_ID_HEADER, SIGNATURE_HEADER, ScanningKeys
from keyplane.identity.mail import mail_sender

router = APIRouter(prefix="/v1", tags=["credential hygiene"])
GITHUB = "GitHub secret scanning"
PUBLIC = "a report to POST /v1/tokens/report"
LABELS = {True: schemas.Label.TRUE_POSITIVE, False: schemas.Label.FALSE_POSITIVE}
RECEIVED = (
    "Thank you. If this value is a live keyplane credential, it has been revoked and "
    "the owners of its organization have been told."
)


class HygieneProcess(Process, Protocol):
    """What these routes need of the process: also the secret-scanning partner's keys."""

    @property
    def scanning_keys(self) -> ScanningKeys: ...


@dataclass(frozen=True)
class Mail:
    """What the owners' mail needs once the answer has left."""

    settings: Settings
    sessions: sessionmaker[Session]
    background: BackgroundTasks


@router.post("/secret-scanning/reports", response_model=list[schemas.ScanningResult])
async def secret_scanning_reports(
    request: Request, db: DbSession, background: BackgroundTasks
) -> list[schemas.ScanningResult]:
    """GitHub's secret-scanning partner endpoint: a signed JSON array of
    `{token, type, url, source}`; each true positive is revoked at once.

    The body is signed with ECDSA P-256 / SHA-256 (headers `Github-Public-Key-Identifier`
    and `Github-Public-Key-Signature`) by a key published at
    `KEYPLANE_SECRET_SCANNING_KEYS_URL`; anything else is 401 and revokes nothing.
    """
    body = await request.body()
    runtime: HygieneProcess = process_of(request)
    headers = request.headers
    ip = client_ip(request)
    runtime.authenticator.check_failure_limit(ip)
    try:
        await run_in_threadpool(
            runtime.scanning_keys.verify,
            headers.get(KEY_ID_HEADER),
            headers.get(SIGNATURE_HEADER),
            body,
        )
    except NotAuthenticated:
        runtime.authenticator.record_failure(ip, "secret_scanning_signature")
        raise
    try:
        matches = schemas.ScanningReport.model_validate_json(body).root
    except ValidationError:
        raise InvalidInput("a report is a JSON array of {token, type, url, source}") from None
    mail = Mail(runtime.settings, runtime.sessions, background)
    return await run_in_threadpool(_scanned, mail, request, db, matches)


def _scanned(
    mail: Mail,
    request: Request,
    db: Session,
    matches: Sequence[schemas.ScanningMatch],
) -> list[schemas.ScanningResult]:
    results, revoked = [], []
    for match in matches:
        sighting = leaks.Sighting(match.url, match.source, match.type, GITHUB)
        finding = leaks.report(db, match.token, sighting)
        results.append(
            schemas.ScanningResult(
                token_hash=finding.token_hash,
                token_type=match.type,
                label=LABELS[finding.true_positive],
            )
        )
        if finding.revoked:
            revoked.append(finding.revoked)
    _announce(mail, request, db, revoked)
    return results


@router.post("/tokens/report", response_model=schemas.LeakReceived, status_code=202)
def report_leak(
    body: schemas.LeakReport, request: Request, db: DbSession, background: BackgroundTasks
) -> schemas.LeakReceived:
    """Report a leaked keyplane token or key secret; no credential needed.

    A live value is revoked at once and its organization's owners are mailed. The
    answer is the same whether or not the value was live.
    """
    runtime: HygieneProcess = process_of(request)
    limit = RateLimitItemPerMinute(runtime.settings.leak_reports_per_minute)
    retry = runtime.limiter.retry_after(limit, "leak-report", client_ip(request))
    if retry is not None:
        raise TooManyRequests(
            f"too many leak reports from this address: try again in {retry} seconds",
            retry_after=retry,
        )
    runtime.limiter.hit(limit, "leak-report", client_ip(request))
    finding = leaks.report(db, body.token, leaks.Sighting(reporter=PUBLIC))
    mail = Mail(runtime.settings, runtime.sessions, background)
    _announce(mail, request, db, [finding.revoked] if finding.revoked else [])
    return schemas.LeakReceived(message=RECEIVED)


def _announce(
    mail: Mail,
    request: Request,
    db: Session,
    revoked: list[leaks.Revoked],
) -> None:
    """Once the revocation commits: its audit events, and the owners' mail after the answer."""
    if not revoked:
        return

    def announce() -> None:
        for each in revoked:
            note(request, _event(each))
        mail.background.add_task(_mail, mail, revoked)

    after_commit(db, announce)


def _event(revoked: leaks.Revoked) -> EventDraft:
    sighting = revoked.sighting
    draft = EventDraft(actions.TOKEN_LEAKED, SUCCESS, organization_id=revoked.organization_id)
    draft.actor_kind = "SECRET_SCANNER" if sighting.reporter == GITHUB else "ANONYMOUS"
    draft.actor_name = sighting.reporter
    draft.target_type, draft.target_id = revoked.credential_type, revoked.credential_id
    draft.details = {
        "url": sighting.url,
        "source": sighting.source,
        "type": sighting.pattern,
        "name": revoked.name,
        "shortToken": revoked.short_token,
        "scope": revoked.scope,
        "role": revoked.role,
        "revoked": True,
    }
    return draft


def _mail(mail: Mail, revoked: list[leaks.Revoked]) -> None:
    """Compose (reading the owners) and send the mail; runs after the answer left.

    A mail that cannot be sent is logged and stays claimed, unsent: a run of ``keyplane
    admin notify`` after the lease sends it. The revocation and its audit event stand.
    """
    leak_notices.deliver(mail.sessions, mail.settings, mail_sender(mail.settings), revoked)
