"""The device authorization grant (RFC 8628) for ``keyplane login --device``."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.db.base import utcnow
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import InvalidInput, NotFound
from keyplane.identity import cli_tokens
from keyplane.identity.models import DeviceAuthorization
from keyplane.oauth.errors import InvalidGrant, OAuthError
from keyplane.runtime import Runtime

# §6.1: no vowels (no words by accident), no digits to confuse with letters.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
INTERVAL = 5
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"


class AuthorizationPending(OAuthError):
    error = "authorization_pending"


class SlowDown(OAuthError):
    error = "slow_down"


class AccessDenied(OAuthError):
    error = "access_denied"


class ExpiredToken(OAuthError):
    error = "expired_token"


def new_user_code() -> str:
    code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalize_user_code(text: str) -> str:
    letters = "".join(c for c in text.upper() if c in USER_CODE_ALPHABET)
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == USER_CODE_LENGTH else ""


def start(db: Session, runtime: Runtime, client_id: str) -> dict[str, Any]:
    """§3.1-3.2: a device code for the client to poll with and a user code for the person."""
    settings = runtime.settings
    device_code = secrets.token_urlsafe(32)
    user_code = new_user_code()
    db.add(
        DeviceAuthorization(
            device_code_hash=hash_secret(device_code),
            user_code=user_code,
            client_id=client_id,
            expires_at=utcnow() + timedelta(seconds=settings.device_code_seconds),
            interval=INTERVAL,
        )
    )
    db.flush()
    base = settings.public_url.rstrip("/")
    return {
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": f"{base}/device",
        "verification_uri_complete": f"{base}/device?user_code={user_code}",
        "expires_in": settings.device_code_seconds,
        "interval": INTERVAL,
    }


def poll(db: Session, runtime: Runtime, client_id: str, device_code: str) -> dict[str, Any]:
    """§3.4-3.5: tokens once approved; otherwise the RFC's error for the state it is in."""
    row = db.scalar(
        select(DeviceAuthorization).where(
            DeviceAuthorization.device_code_hash == hash_secret(device_code)
        )
    )
    if row is None or row.client_id != client_id:
        raise InvalidGrant("unknown device code")
    now = utcnow()
    if row.expires_at <= now:
        db.delete(row)
        raise ExpiredToken("the device code expired: start again with `keyplane login --device`")
    if row.status == "denied":
        db.delete(row)
        raise AccessDenied("the sign-in was refused in the browser")
    if row.status == "approved" and row.user_id:
        user_id = row.user_id
        db.delete(row)
        return cli_tokens.start_login(runtime, db, user_id, "device_code")
    too_soon = row.last_polled_at and now - row.last_polled_at < timedelta(seconds=row.interval)
    row.last_polled_at = now
    if too_soon:
        row.interval += 5  # §3.5: every slow_down adds 5 seconds
        raise SlowDown(f"polling too fast: wait {row.interval} seconds between requests")
    raise AuthorizationPending("waiting for the person to approve the sign-in")


def pending(db: Session, user_code: str) -> DeviceAuthorization:
    """The live, undecided authorization for a user code; NotFound otherwise."""
    code = normalize_user_code(user_code)
    row = db.scalar(select(DeviceAuthorization).where(DeviceAuthorization.user_code == code))
    if code == "" or row is None or row.status != "pending" or row.expires_at <= utcnow():
        raise NotFound("no pending sign-in has this code: check it, or start again in the CLI")
    return row


def decide(db: Session, user_code: str, user_id: str, approve: bool) -> None:
    row = pending(db, user_code)
    if approve:
        row.status, row.user_id = "approved", user_id
    else:
        row.status = "denied"
    db.flush()


def check_user_code_input(text: str) -> str:
    code = normalize_user_code(text)
    if not code:
        raise InvalidInput(
            f"a code is {USER_CODE_LENGTH} letters, like BCDF-GHJK",
            field_errors={"user_code": "not a code"},
        )
    return code
