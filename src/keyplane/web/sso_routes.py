"""The browser side of organization SSO: off to the provider, and back."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from keyplane.audit.notes import note, note_on_commit
from keyplane.domain.errors import DomainError, NotAuthenticated
from keyplane.http.deps import DbSession, WritingDbSession, client_ip
from keyplane.http.routing import APIRouter
from keyplane.identity import login_audit, sessions
from keyplane.identity.models import SsoConnection
from keyplane.identity.oidc import Attempt, RelyingParty
from keyplane.identity.sso_login import SsoSignIn, connection_for_login, user_from_claims
from keyplane.web.context import web_of
from keyplane.web.errors import message_page, pages_fail_as
from keyplane.web.pages import redirect, safe_next, set_cookie

# Whatever went wrong, the browser is told one thing: this sign-in did not happen.
FAILED = message_page(
    "Single sign-on failed",
    "/login?" + urlencode({"next": "/console"}),
    status=401,
    back_label="Back to sign-in",
    error_role=1,
)
router = APIRouter(prefix="/sso", include_in_schema=False, dependencies=[pages_fail_as(FAILED)])
ATTEMPT_SECONDS = 600


def relying_party(request: Request) -> RelyingParty:
    party: RelyingParty | None = getattr(request.app.state, "relying_party", None)
    if party is None:
        allow = web_of(request).settings.sso_allow_private_networks
        party = request.app.state.relying_party = RelyingParty(allow_private_networks=allow)
    return party


def attempt_cookie(request: Request) -> str:
    return "__Host-keyplane_sso" if web_of(request).settings.cookie_secure else "keyplane_sso"


def callback_url(request: Request) -> str:
    return web_of(request).settings.public_url.rstrip("/") + "/sso/callback"


@router.get("/{connection_id}/start")
async def start(
    request: Request, db: DbSession, connection_id: str, login_hint: str = "", next: str = ""
) -> Response:
    web = web_of(request)
    connection = connection_for_login(db, connection_id)
    provider = await relying_party(request).provider(connection.issuer)
    attempt = Attempt.new()
    url = relying_party(request).authorization_url(
        provider, connection.client_id, callback_url(request), attempt, login_hint[:320]
    )
    sealed = {
        "c": connection.id,
        "s": attempt.state,
        "n": attempt.nonce,
        "v": attempt.code_verifier,
        "next": safe_next(next),
        "t": int(time.time()),
    }
    response = redirect(request, url)
    box = web.runtime.secret_box
    set_cookie(request, response, attempt_cookie(request), box.encrypt(json.dumps(sealed).encode()))
    return response


@router.get("/callback")
async def callback(request: Request, db: WritingDbSession) -> Response:
    web = web_of(request)
    ip = client_ip(request)
    # Each refusal below is an event in the connection's organization's log: limited
    # per address as failed credentials are, so that no one can flood it.
    web.runtime.authenticator.check_failure_limit(ip)
    sealed = _open_attempt(request)
    if sealed is None or not hmac.compare_digest(
        str(sealed["s"]), request.query_params.get("state", "")
    ):
        raise NotAuthenticated("This sign-in link has expired or was not started here.")
    connection = connection_for_login(db, sealed["c"])
    signed = await _recorded(request, db, connection, sealed)
    person = sessions.user_principal(db, signed.user)
    note_on_commit(request, db, login_audit.sso_signed_in(connection, signed, person))
    name = sessions.cookie_name(web.settings)
    value = sessions.start_session(
        db,
        web.settings,
        signed.user,
        client_ip=ip,
        user_agent=request.headers.get("user-agent", ""),
        method=f"sso:{connection.id}",
        replaces=request.cookies.get(name),
    )
    response = redirect(request, safe_next(sealed.get("next")))
    set_cookie(request, response, name, value)
    response.delete_cookie(attempt_cookie(request), path="/", secure=web.settings.cookie_secure)
    return response


async def _recorded(
    request: Request, db: Session, connection: SsoConnection, sealed: dict[str, Any]
) -> SsoSignIn:
    """:func:`_redeem`; a refusal is counted against the address and noted in the
    connection's organization's log, with the reason."""
    try:
        return await _redeem(request, db, connection, sealed)
    except DomainError as refused:
        web_of(request).runtime.authenticator.record_failure(client_ip(request), "sso")
        note(request, login_audit.sso_refused(connection, str(refused)))
        raise


async def _redeem(
    request: Request, db: Session, connection: SsoConnection, sealed: dict[str, Any]
) -> SsoSignIn:
    """The person the provider vouches for in its answer to this attempt."""
    web = web_of(request)
    params = request.query_params
    party = relying_party(request)
    provider = await party.provider(connection.issuer)
    provider.check_response_issuer(params.get("iss"))  # error responses too (RFC 9207 §2.4)
    if "error" in params:
        reason = params.get("error_description") or params["error"]
        raise NotAuthenticated(f"The identity provider said: {reason[:200]}")
    attempt = Attempt(sealed["s"], sealed["n"], sealed["v"])
    secret = web.runtime.secret_box.decrypt(connection.client_secret_encrypted).decode()
    claims = await party.redeem(
        provider,
        connection.client_id,
        secret,
        callback_url(request),
        attempt,
        params.get("code", ""),
    )
    return user_from_claims(db, connection, claims)


def _open_attempt(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(attempt_cookie(request))
    if not raw:
        return None
    try:
        sealed = json.loads(web_of(request).runtime.secret_box.decrypt(raw))
    except ValueError:
        return None
    if not isinstance(sealed, dict) or time.time() - int(sealed.get("t", 0)) > ATTEMPT_SECONDS:
        return None
    return sealed
