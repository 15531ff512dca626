"""The authorization code grant with PKCE for ``keyplane login`` (RFC 6749 §4.1, RFC 7636).

The CLI is a native app: it listens on a loopback port and its redirect URI is
``http://127.0.0.1:<port>/...`` (RFC 8252 §7.3), any port. PKCE with S256 is
required, since a public client has no secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from keyplane.db.base import utcnow
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import InvalidInput
from keyplane.domain.ids import shown

__all__ = [
    "InvalidInput",
    "RedirectError",
    "check_redirect",
    "issue_code",
    "redeem",
    "request_error",
    "response_uri",
]
from keyplane.identity import cli_tokens
from keyplane.identity.models import AuthorizationCode
from keyplane.oauth.context import ServerContext
from keyplane.oauth.errors import InvalidGrant

CODE_SECONDS = 60
# The code keeps its redirect URI to compare at redemption (AuthorizationCode.redirect_uri).
REDIRECT_URI_MAX = 500


def check_redirect(client_id: str, redirect_uri: str) -> None:
    """§4.1.2.1: raise InvalidInput when the client or redirect URI is not one to send
    the browser back to; the error is then shown to the person, never redirected.

    §3.1.2: the redirect URI must not have a fragment (the code would land in it). It
    must parse, with a port that is a number, and fit in :data:`REDIRECT_URI_MAX`.
    """
    if client_id != cli_tokens.CLI_CLIENT_ID:
        raise InvalidInput(f"unknown client {shown(client_id)}")
    if len(redirect_uri) > REDIRECT_URI_MAX:
        raise InvalidInput(f"redirect_uri is too long: at most {REDIRECT_URI_MAX} characters")
    try:
        parts = urlsplit(redirect_uri)
        hostname = parts.hostname
    except ValueError:  # an unclosed [IPv6 address]
        raise InvalidInput("redirect_uri is not a valid URL") from None
    try:
        _ = parts.port  # any port (RFC 8252 §7.3), but a number: it goes into Location
    except ValueError:
        raise InvalidInput("redirect_uri must have a port number from 0 to 65535") from None
    # Browsers read a backslash as "/" and drop a user name before "@": a URI whose host
    # Python and a browser would read differently is refused, not sent anywhere.
    if "@" in parts.netloc or any(c == "\\" or c.isspace() or ord(c) < 32 for c in redirect_uri):
        raise InvalidInput(
            "redirect_uri must be a plain loopback URL: no user name, backslash or space"
        )
    if parts.scheme != "http" or hostname not in ("127.0.0.1", "::1", "localhost"):
        raise InvalidInput("redirect_uri must be a loopback address (http://127.0.0.1:PORT/...)")
    if "#" in redirect_uri:
        raise InvalidInput("redirect_uri must not have a fragment (RFC 6749 §3.1.2)")


def request_error(response_type: str, challenge: str, method: str) -> RedirectError | None:
    """§4.1.2.1: what is wrong with a request whose redirect URI is valid, or None.

    The error goes back to the client on its redirect URI (``error=``, with ``state``).
    """
    if response_type != "code":
        return RedirectError("unsupported_response_type", "response_type must be code")
    if method != "S256" or not 43 <= len(challenge) <= 128:
        return RedirectError(
            "invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256"
        )
    return None


@dataclass(frozen=True)
class RedirectError:
    """An authorization error response (§4.1.2.1): ``error`` and its description."""

    error: str
    description: str


def response_uri(redirect_uri: str, issuer: str, state: str, **params: str) -> str:
    """The redirect URI with the response's parameters, ``state`` when the request had one
    (§4.1.2) and ``iss`` (RFC 9207 §2), so the client can tell which server answered."""
    fields = {**params, **({"state": state} if state else {}), "iss": issuer}
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urlencode(fields)}"


def issue_code(db: Session, user_id: str, client_id: str, redirect_uri: str, challenge: str) -> str:
    # Spent codes stay until they expire (for replay detection); expired ones go here.
    db.execute(
        delete(AuthorizationCode)
        .where(AuthorizationCode.expires_at < utcnow())
        .execution_options(synchronize_session=False)
    )
    code = secrets.token_urlsafe(32)
    db.add(
        AuthorizationCode(
            code_hash=hash_secret(code),
            user_id=user_id,
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            expires_at=utcnow() + timedelta(seconds=CODE_SECONDS),
        )
    )
    db.flush()
    return code


def redeem(
    db: Session, runtime: ServerContext, client_id: str, code: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    """§4.1.3: one use only, same client and redirect URI, and the PKCE verifier must match.

    The code is spent by one conditional UPDATE … RETURNING, whatever happens next (a
    refusal commits too): of any number of redemptions at once, on any replica, one
    gets the row and the others find it spent. A spent code presented again means a
    copy is in other hands, so the login it started is revoked (§4.1.2, RFC 9700
    §4.14.2 for the refresh token chain); the caller commits that despite the error.
    """
    code_hash = hash_secret(code)
    row = db.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(
            AuthorizationCode.user_id,
            AuthorizationCode.client_id,
            AuthorizationCode.redirect_uri,
            AuthorizationCode.code_challenge,
            AuthorizationCode.expires_at,
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        _refuse_replay(db, code_hash)
    if row.expires_at <= utcnow():
        raise InvalidGrant("the authorization code expired: sign in again")
    if row.client_id != client_id or row.redirect_uri != redirect_uri:
        raise InvalidGrant("the authorization code was issued to another client or redirect_uri")
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not secrets.compare_digest(expected, row.code_challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
    login = cli_tokens.new_login(runtime, db, row.user_id, "authorization_code")
    db.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash)
        .values(login_id=login.id)
        .execution_options(synchronize_session=False)
    )
    return cli_tokens.first_tokens(runtime, db, login)


def _refuse_replay(db: Session, code_hash: str) -> NoReturn:
    """The code is unknown, or was spent before: revoke what it started, if anything."""
    login_id = db.scalar(
        select(AuthorizationCode.login_id).where(AuthorizationCode.code_hash == code_hash)
    )
    if login_id is not None:
        cli_tokens.revoke_login(db, login_id)
        raise InvalidGrant(
            "this authorization code was already used, so a copy of it is in other hands: "
            "the login it started is revoked, sign in again with `keyplane login`"
        )
    raise InvalidGrant("unknown or already used authorization code")
