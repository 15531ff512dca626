"""Signatures of secret-scanning reports, as GitHub's partner program makes them.

GitHub signs the raw body of each report with ECDSA P-256 / SHA-256 and sends the
key's identifier and the base64 DER signature in ``Github-Public-Key-Identifier``
and ``Github-Public-Key-Signature``. Its public keys are published as
``{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`` at the URL
configured by ``KEYPLANE_SECRET_SCANNING_KEYS_URL`` (an operator's setting, never a
tenant's). Keys are kept in a :class:`keyplane.cache.Cache`; an identifier not
among them makes one refetch, at most once per ``refetch_seconds``, so a flood of
made-up identifiers cannot make the server hammer the key URL.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keyplane.cache import Cache
from keyplane.domain.errors import DomainError, NotAuthenticated

log = logging.getLogger(__name__)

KEY_ID_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"
KEYS_LIMIT = 64
FAILED_RETRY_SECONDS = 5.0
UNSIGNED = (
    "secret-scanning reports must be signed: headers Github-Public-Key-Identifier and "
    "Github-Public-Key-Signature are required"
)

UNAVAILABLE = "the secret-scanning public keys cannot be fetched now: try again later"


class KeysUnavailable(DomainError):
    """The partner's public keys could not be fetched: the report cannot be checked now."""

    status_code = 503


class ScanningKeys:
    """Verifies report signatures against the partner's published public keys."""

    def __init__(self, url: str, *, ttl_seconds: float = 3600.0, refetch_seconds: float = 60.0):
        self.url = url
        self.refetch_seconds = refetch_seconds
        self.keys: Cache[str, ec.EllipticCurvePublicKey] = Cache(ttl_seconds, KEYS_LIMIT)
        self._fetched_at = -float("inf")
        self._unavailable = False  # whether the last fetch failed
        self._lock = threading.Lock()

    def verify(self, identifier: str | None, signature: str | None, body: bytes) -> None:
        """Return if ``signature`` is the key's signature of ``body``; raise
        NotAuthenticated otherwise (missing header, unknown key, bad signature), or
        KeysUnavailable when the keys are not known and cannot be fetched."""
        if not identifier or not signature:
            raise NotAuthenticated(UNSIGNED)
        try:
            der = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise NotAuthenticated("the report's signature is not base64") from None
        key = self._key(identifier)
        try:
            key.verify(der, body, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            raise NotAuthenticated("the report's signature does not match its body") from None

    def _key(self, identifier: str) -> ec.EllipticCurvePublicKey:
        key = self.keys.get(identifier)
        if key is None and self._refetch_allowed():
            self._fetch()
            key = self.keys.get(identifier)
        if key is None and self._unavailable:  # the last fetch failed: cannot tell yet
            raise KeysUnavailable(UNAVAILABLE)
        if key is None:
            raise NotAuthenticated("the report is signed with an unknown key identifier")
        return key

    def _refetch_allowed(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._fetched_at < self.refetch_seconds:
                return False
            self._fetched_at = now
            return True

    def _fetch(self) -> None:
        ticket = self.keys.ticket()
        try:
            answer = httpx.get(self.url, timeout=5.0, headers={"Accept": "application/json"})
            answer.raise_for_status()
            listed = answer.json()["public_keys"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            with self._lock:  # retry within seconds, not a whole interval, after a failure
                self._fetched_at = time.monotonic() - self.refetch_seconds + FAILED_RETRY_SECONDS
            log.warning("secret-scanning keys unavailable from %s: %s", self.url, error)
            self._unavailable = True
            raise KeysUnavailable(UNAVAILABLE) from None
        self._unavailable = False
        for entry in listed:
            key = _public_key(entry)
            if key is not None:
                self.keys.put(str(entry["key_identifier"]), key, ticket)


def _public_key(entry: Any) -> ec.EllipticCurvePublicKey | None:
    """An entry's P-256 key; None (logged) for anything else."""
    try:
        key = serialization.load_pem_public_key(str(entry["key"]).encode("ascii"))
    except (KeyError, TypeError, ValueError, UnicodeEncodeError):
        log.warning("a secret-scanning key entry is not a PEM public key: skipped")
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        log.warning("a secret-scanning key is not ECDSA P-256: skipped")
        return None
    return key
