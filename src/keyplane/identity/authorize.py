"""The authorization code grant with PKCE for ``keyplane login`` (RFC 6749 §4.1, RFC 7636).

The CLI is a native app: it listens on a loopback port and its redirect URI is
``http://127.0.0.1:<port>/...`` (RFC 8252 §7.3), any port. PKCE with S256 is
required, since a public client has no secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlalchemy.orm import Session

from keyplane.db.base import utcnow
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import InvalidInput

__all__ = ["InvalidInput", "check_request", "issue_code", "redeem"]
from keyplane.identity import cli_tokens
from keyplane.identity.models import AuthorizationCode
from keyplane.oauth.context import ServerContext
from keyplane.oauth.errors import InvalidGrant

CODE_SECONDS = 60


def check_request(client_id: str, redirect_uri: str, challenge: str, method: str) -> None:
    """Raise InvalidInput unless the request may be shown to the person at all."""
    if client_id != cli_tokens.CLI_CLIENT_ID:
        raise InvalidInput(f"unknown client {client_id[:64]!r}")
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise InvalidInput("redirect_uri must be a loopback address (http://127.0.0.1:PORT/...)")
    if method != "S256" or not 43 <= len(challenge) <= 128:
        raise InvalidInput("PKCE is required: code_challenge with code_challenge_method=S256")


def issue_code(db: Session, user_id: str, client_id: str, redirect_uri: str, challenge: str) -> str:
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

    The code is spent by one DELETE … RETURNING, whatever happens next (a refusal
    commits too): of any number of redemptions at once, on any replica, one gets the
    row and the others find none.
    """
    row = db.execute(
        delete(AuthorizationCode)
        .where(AuthorizationCode.code_hash == hash_secret(code))
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
        raise InvalidGrant("unknown or already used authorization code")
    if row.expires_at <= utcnow():
        raise InvalidGrant("the authorization code expired: sign in again")
    if row.client_id != client_id or row.redirect_uri != redirect_uri:
        raise InvalidGrant("the authorization code was issued to another client or redirect_uri")
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not secrets.compare_digest(expected, row.code_challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
    return cli_tokens.start_login(runtime, db, row.user_id, "authorization_code")
