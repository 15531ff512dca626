"""The device authorization grant (RFC 8628) for ``keyplane login --device``."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyplane.db.base import utcnow
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import InvalidInput, NotFound
from keyplane.identity import cli_tokens
from keyplane.identity.device_limits import Approver, count_start
from keyplane.identity.models import DeviceAuthorization
from keyplane.oauth.context import ServerContext
from keyplane.oauth.errors import InvalidGrant, OAuthError

# §6.1: no vowels (no words by accident), no digits to confuse with letters.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
INTERVAL = 5
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
EXPIRED = "the device code expired: start again with `keyplane login --device`"
# A collision of two live user codes is rare (20^8 codes): after this many, something is wrong.
USER_CODE_DRAWS = 5


class AuthorizationPending(OAuthError):
    error = "authorization_pending"


class SlowDown(OAuthError):
    error = "slow_down"


class AccessDenied(OAuthError):
    error = "access_denied"


class ExpiredToken(OAuthError):
    error = "expired_token"


PURGE_AFTER = timedelta(hours=1)  # how long an expired authorization still answers a poll


def new_user_code() -> str:
    code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalize_user_code(text: str) -> str:
    letters = "".join(c for c in text.upper() if c in USER_CODE_ALPHABET)
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == USER_CODE_LENGTH else ""


def start(db: Session, runtime: ServerContext, client_id: str, client_ip: str) -> dict[str, Any]:
    """§3.1-3.2: a device code for the client to poll with and a user code for the person.

    Raises TemporarilyUnavailable (429, Retry-After) past
    :data:`keyplane.identity.device_limits.STARTS_PER_IP`.
    Authorizations expired an hour ago are deleted here (a poll deletes only its own,
    and the CLI may never poll again); one expired more recently stays, so that a poll
    at its boundary is still told ``expired_token``.
    """
    settings = runtime.settings
    count_start(runtime.limiter, client_ip)
    db.execute(
        delete(DeviceAuthorization)
        .where(DeviceAuthorization.expires_at <= utcnow() - PURGE_AFTER)
        .execution_options(synchronize_session=False)
    )
    device_code = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=settings.device_code_seconds)
    user_code = _add_with_new_user_code(db, device_code, client_id, expires_at)
    base = settings.public_url.rstrip("/")
    return {
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": f"{base}/device",
        "verification_uri_complete": f"{base}/device?user_code={user_code}",
        "expires_in": settings.device_code_seconds,
        "interval": INTERVAL,
    }


def _add_with_new_user_code(
    db: Session, device_code: str, client_id: str, expires_at: datetime
) -> str:
    """Store the authorization under a user code no live one has, and return that code.

    The unique index decides, in a savepoint: a code taken by another authorization,
    committed or being added by a concurrent start on any replica, is drawn again.
    """
    draws = 0
    while True:
        draws, user_code = draws + 1, new_user_code()
        row = DeviceAuthorization(
            device_code_hash=hash_secret(device_code),
            user_code=user_code,
            client_id=client_id,
            expires_at=expires_at,
            interval=INTERVAL,
        )
        try:
            with db.begin_nested():
                db.add(row)
        except IntegrityError:
            if draws == USER_CODE_DRAWS:
                raise
        else:
            return user_code


def poll(db: Session, runtime: ServerContext, client_id: str, device_code: str) -> dict[str, Any]:
    """§3.4-3.5: tokens once approved; otherwise the RFC's error for the state it is in.

    An approved code is spent by one DELETE … RETURNING: of any number of polls at
    once, on any replica, one gets the login and the others find no code. Every
    change here is a statement, never a flush of a loaded row, so a row that a
    concurrent poll removed is no error. The caller commits despite the RFC errors.
    """
    code_hash = hash_secret(device_code)
    now = utcnow()
    spent = db.execute(
        delete(DeviceAuthorization)
        .where(
            DeviceAuthorization.device_code_hash == code_hash,
            DeviceAuthorization.client_id == client_id,
            DeviceAuthorization.status == "approved",
            DeviceAuthorization.user_id.is_not(None),
        )
        .returning(DeviceAuthorization.user_id, DeviceAuthorization.expires_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if spent is not None:
        if spent.expires_at <= now:
            raise ExpiredToken(EXPIRED)
        assert spent.user_id is not None
        return cli_tokens.start_login(runtime, db, spent.user_id, "device_code")
    row = db.scalar(
        select(DeviceAuthorization).where(DeviceAuthorization.device_code_hash == code_hash)
    )
    if row is None or row.client_id != client_id:
        raise InvalidGrant("unknown device code")
    this = DeviceAuthorization.id == row.id
    if row.expires_at <= now or row.status == "denied":
        db.execute(delete(DeviceAuthorization).where(this))
        if row.status == "denied":
            raise AccessDenied("the sign-in was refused in the browser")
        raise ExpiredToken(EXPIRED)
    too_soon = row.last_polled_at and now - row.last_polled_at < timedelta(seconds=row.interval)
    interval = row.interval + 5 if too_soon else row.interval  # §3.5: slow_down adds 5 s
    db.execute(
        update(DeviceAuthorization)
        .where(this)
        .values(last_polled_at=now, interval=interval)
        .execution_options(synchronize_session=False)
    )
    if too_soon:
        raise SlowDown(f"polling too fast: wait {interval} seconds between requests")
    raise AuthorizationPending("waiting for the person to approve the sign-in")


def pending(db: Session, user_code: str, approver: Approver) -> DeviceAuthorization:
    """The live, undecided authorization for a user code; NotFound otherwise.

    §5.1: a code that finds none counts against the approver and their address
    (:mod:`keyplane.identity.device_limits`): past the person's limit every code is
    refused with TooManyRequests, the right one too, so that guessing cannot go on;
    past the address's, wrong codes are. A code found is never counted.
    """
    approver.refuse_if_limited()
    code = normalize_user_code(user_code)
    row = db.scalar(select(DeviceAuthorization).where(DeviceAuthorization.user_code == code))
    if code == "" or row is None or row.status != "pending" or row.expires_at <= utcnow():
        approver.wrong_code()
        raise NotFound("no pending sign-in has this code: check it, or start again in the CLI")
    return row


def decide(db: Session, user_code: str, approver: Approver, approve: bool) -> None:
    """Approve or refuse a pending sign-in; NotFound if it is not pending any more.

    Conditional on the row still being pending, so two decisions at once (an approval
    in one tab, a refusal in another) cannot both stand.
    """
    row = pending(db, user_code, approver)
    user_id = approver.user_id
    values = {"status": "approved", "user_id": user_id} if approve else {"status": "denied"}
    decided = db.execute(
        update(DeviceAuthorization)
        .where(DeviceAuthorization.id == row.id, DeviceAuthorization.status == "pending")
        .values(**values)
        .returning(DeviceAuthorization.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if decided is None:
        raise NotFound("this sign-in was decided already: start again in the CLI if needed")


def check_user_code_input(text: str) -> str:
    code = normalize_user_code(text)
    if not code:
        raise InvalidInput(
            f"a code is {USER_CODE_LENGTH} letters, like BCDF-GHJK",
            field_errors={"user_code": "not a code"},
        )
    return code
