"""ES256 signing keys: kept in the database, private halves encrypted at rest.

Why the database and the SecretBox (and not a key file per server): every replica
must sign with keys that every other replica publishes, so the keys live where all
replicas look, and the private PEM is Fernet-encrypted with ``KEYPLANE_ENCRYPTION_KEYS``
(or the 0600 key file in the data dir), so a database dump alone cannot mint tokens.

Rotation (``keyplane admin keys rotate``) adds a new key at once to the JWKS, but it
signs only :data:`PUBLISH_AHEAD` later: a relying party that cached the JWKS just
before the rotation (for up to ``max-age``, :data:`JWKS_MAX_AGE`), from a replica that
had not re-read the keys yet (up to :data:`REFRESH_SECONDS`), already knows the new
``kid`` when the first token signed with it arrives. Until then the old key signs
(``retired_at`` is the moment it stops); it stays in the JWKS until every token it
can have signed has expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from keyplane.db.base import utcnow
from keyplane.db.unit import read_only, unit_of_work
from keyplane.oauth.models import SigningKey
from keyplane.secretbox import SecretBox

ALGORITHM = "ES256"
# How often a process re-reads the key set, so that a rotation made elsewhere (the
# admin CLI, another replica) is picked up; unknown kids trigger an earlier reload.
REFRESH_SECONDS = 60.0
UNKNOWN_KID_RELOAD_SECONDS = 1.0
LEEWAY = timedelta(seconds=120)
# ``Cache-Control: max-age`` of the published JWKS (keyplane.oauth.routes).
JWKS_MAX_AGE = 60
# How long a rotated-in key is published before it signs (see the module docstring).
PUBLISH_AHEAD = timedelta(seconds=JWKS_MAX_AGE + REFRESH_SECONDS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256), used as the ``kid``."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("ascii")).digest())


def create_signing_key(db: Session, box: SecretBox) -> SigningKey:
    """Add a new ES256 key (not committed); being the newest, it signs from now on."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jwk = public_jwk(private.public_key())
    key = SigningKey(
        kid=thumbprint(jwk),
        algorithm=ALGORITHM,
        private_key=box.encrypt(pem),
        public_jwk={**jwk, "use": "sig", "alg": ALGORITHM},
        created_at=utcnow(),
    )
    db.add(key)
    return key


def rotate_signing_keys(db: Session, box: SecretBox, token_lifetime_seconds: int) -> SigningKey:
    """Add a new key, published now, that signs :data:`PUBLISH_AHEAD` from now; the key
    signing until then is retired at that moment; keys no token needs go (flushed).

    A retired key stays published for one token lifetime after it stops signing, plus
    the time other processes may take to notice, plus clock leeway.
    """
    now = utcnow()
    switch = now + PUBLISH_AHEAD
    keep_until = switch + timedelta(seconds=token_lifetime_seconds + REFRESH_SECONDS) + LEEWAY
    for key in db.scalars(select(SigningKey)):
        if key.unpublish_at is not None and key.unpublish_at <= now:
            db.delete(key)
        elif key.retired_at is None:
            key.retired_at = switch
            key.unpublish_at = keep_until
    new = create_signing_key(db, box)
    db.flush()
    return new


def signing_key(keys: list[SigningKey], now: datetime) -> SigningKey:
    """The key that signs at ``now``: of keys still to be retired, the one retired first
    (a rotation's old key until its switch); else the newest never retired."""
    pending = [k for k in keys if k.retired_at is not None and k.retired_at > now]
    if pending:
        return min(pending, key=lambda k: k.retired_at or now)
    return next(k for k in keys if k.retired_at is None)


def published_keys(db: Session) -> list[SigningKey]:
    """Keys whose tokens may still be valid, newest first."""
    now = utcnow()
    query = (
        select(SigningKey)
        .where(or_(SigningKey.unpublish_at.is_(None), SigningKey.unpublish_at > now))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return list(db.scalars(query))


@dataclass(frozen=True)
class KeySet:
    signer_kid: str
    signer: ec.EllipticCurvePrivateKey
    public: dict[str, ec.EllipticCurvePublicKey]
    jwks: dict[str, Any]
    loaded_at: float
    # When the signer is retired and the next key takes over (a rotation pending).
    signer_until: datetime | None = None

    @cached_property
    def access_token_header(self) -> bytes:
        """The base64url JOSE header of access tokens signed now (RFC 9068 §2.1)."""
        header = {"alg": ALGORITHM, "kid": self.signer_kid, "typ": "at+jwt"}
        return _b64(json.dumps(header, separators=(",", ":")).encode()).encode()


class KeyRing:
    """One process's view of the signing keys, re-read from the database now and then.

    Reads of the current set are lock-free (one attribute); loading takes a lock and
    does database I/O, so async callers run :meth:`load` in a thread.
    """

    def __init__(self, sessions: sessionmaker[Session], box: Callable[[], SecretBox]) -> None:
        self._sessions = sessions
        self._box = box
        self._lock = threading.Lock()
        self._set: KeySet | None = None

    @property
    def stale(self) -> bool:
        current = self._set
        if current is None or time.monotonic() - current.loaded_at > REFRESH_SECONDS:
            return True
        return current.signer_until is not None and utcnow() >= current.signer_until

    def current(self) -> KeySet:
        """The key set, loading it first if this process has none or it is stale."""
        current = self._set
        if current is None or self.stale:
            return self.load()
        return current

    def may_reload_for_unknown_kid(self) -> bool:
        current = self._set
        return current is None or time.monotonic() - current.loaded_at > (
            UNKNOWN_KID_RELOAD_SECONDS
        )

    def load(self) -> KeySet:
        """Re-read the keys; creates the first key if the database has none."""
        with self._lock:
            with read_only(self._sessions) as db:
                keys = published_keys(db)
            if not any(k.retired_at is None for k in keys):
                with unit_of_work(self._sessions) as db:  # a job of its own
                    create_signing_key(db, self._box())
                with read_only(self._sessions) as db:
                    keys = published_keys(db)
            self._set = self._build(keys)
            return self._set

    def _build(self, keys: list[SigningKey]) -> KeySet:
        signing = signing_key(keys, utcnow())
        private = serialization.load_pem_private_key(
            self._box().decrypt(signing.private_key), password=None
        )
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        public: dict[str, ec.EllipticCurvePublicKey] = {signing.kid: private.public_key()}
        for key in keys:
            if key.kid not in public:
                public[key.kid] = _public_key(key.public_jwk)
        jwks = {"keys": [{**k.public_jwk, "kid": k.kid} for k in keys]}
        return KeySet(signing.kid, private, public, jwks, time.monotonic(), signing.retired_at)

    def invalidate(self) -> None:
        """Make the next use re-read the keys (after a rotation by this process)."""
        self._set = None


def _public_key(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    def number(field: str) -> int:
        text = jwk[field]
        return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

    return ec.EllipticCurvePublicNumbers(number("x"), number("y"), ec.SECP256R1()).public_key()


UNDECRYPTABLE = (
    "unavailable: this replica cannot decrypt the stored signing keys; set "
    "KEYPLANE_ENCRYPTION_KEYS to the keys every replica shares (without it, a replica "
    "uses its own encryption.key file in KEYPLANE_DATA_DIR)"
)


def readiness(keys: KeyRing, sessions: sessionmaker[Session]) -> str:
    """Whether this replica can sign: a replica given other encryption keys than the one
    that made the signing keys would answer every OAuth grant with an error."""
    try:
        if keys.stale:  # else loaded, and so decrypted, within the last minutes
            with sessions() as db:
                if not any(key.retired_at is None for key in published_keys(db)):
                    return "ok (none yet: the first grant makes one)"  # readiness writes nothing
            keys.load()
    except ValueError:  # SecretBox: wrong encryption key or damaged data
        return UNDECRYPTABLE
    except Exception as error:  # readiness reports; it never raises
        return f"unavailable: {type(error).__name__}"
    return "ok"
