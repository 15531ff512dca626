"""The wire format of API tokens and deployment API key secrets (DESIGN §3).

A value is ``<prefix><body><checksum>``: the prefix names the kind so that secret
scanners can match it, the body is 256 random bits in base62 (43 characters), and
the checksum is the CRC32 of prefix and body in 6 base62 characters, so that a
scanner can reject a random look-alike offline. Only a SHA-256 of the whole value
is ever stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib
from enum import StrEnum
from typing import NewType

from keyplane.domain.errors import NotAuthenticated
from keyplane.domain.ids import is_id_shaped

PlaintextSecret = NewType("PlaintextSecret", str)
"""A token or key secret as the user holds it. Never log, store or repr it."""

SecretHash = NewType("SecretHash", str)
"""Hex SHA-256 of a :data:`PlaintextSecret`; what the database keeps."""

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
BODY_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
SHORT_LENGTH = 6


class SecretKind(StrEnum):
    ORGANIZATION_TOKEN = "kpo_"
    WORKSPACE_TOKEN = "kpw_"
    DEPLOYMENT_TOKEN = "kpd_"
    DEPLOYMENT_KEY = "kpk_"


_KINDS = {kind.value: kind for kind in SecretKind}
VALUE_LENGTH = 4 + BODY_LENGTH + CHECKSUM_LENGTH


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))


def checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def generate(kind: SecretKind) -> PlaintextSecret:
    body = _base62(int.from_bytes(secrets.token_bytes(32), "big"), BODY_LENGTH)
    head = kind.value + body
    return PlaintextSecret(head + checksum(head))


def parse(value: str) -> SecretKind:
    """The kind of a well-formed value; raises NotAuthenticated for anything else.

    The message never echoes the value.
    """
    kind = _KINDS.get(value[:4])
    rest = value[4:]
    if kind is None or len(value) != VALUE_LENGTH or not (rest.isascii() and rest.isalnum()):
        raise NotAuthenticated("malformed API token: it is not a keyplane token")
    head, check = value[:-CHECKSUM_LENGTH], value[-CHECKSUM_LENGTH:]
    if not secrets.compare_digest(checksum(head), check):
        raise NotAuthenticated(
            "malformed API token: its checksum does not match (was it cut short?)"
        )
    return kind


# Every prefix of a secret keyplane issues (API tokens, key secrets, refresh tokens), and
# the start of a JWT's header: a path or parameter holding one is a secret misplaced.
_SECRET_STARTS = (*_KINDS, "kpr_", "eyJ")
_LONG = 40  # a long value of no shape a path names (id, email, VARIABLE_KEY) may be a secret
_NAME = re.compile(r"[A-Z0-9_]+")  # an environment variable's key, as people write them


def may_be_secret(value: str) -> bool:
    """Whether ``value`` could be a credential pasted where an id belongs (a token value
    in place of its id, say): one of keyplane's prefixes or a JWT's, or a long value
    that is no id, no email address and no upper-case variable key (no generator of
    secrets writes those). Logs and the audit trail keep such a value as its SHA-256
    (:func:`recorded`), never as itself."""
    if value.startswith(_SECRET_STARTS):
        return True
    return (
        len(value) >= _LONG
        and "@" not in value
        and not is_id_shaped(value)
        and _NAME.fullmatch(value) is None
    )


def recorded(value: str) -> str:
    """``value`` as a log line or an audit event may keep it: itself, or
    ``sha256:<hex>`` if it :func:`may_be_secret` (which still tells a reader which value
    it was, against a known one)."""
    return f"sha256:{hash_secret(value)}" if may_be_secret(value) else value


# A word that begins as one of those secrets does, wherever it stands in a text.
_SECRET_WORD = re.compile(
    r"\b(?:" + "|".join(map(re.escape, _SECRET_STARTS)) + r")[A-Za-z0-9_.\-]*"
)


def screened(text: str, instead: str = "(the value given)") -> str:
    """``text`` with each word that begins as a keyplane secret or a JWT replaced (an
    error message naming a token pasted into a body field, say)."""
    return _SECRET_WORD.sub(instead, text)


def recorded_path(path: str) -> str:
    """A request path with each segment that :func:`may_be_secret` replaced."""
    if not any(may_be_secret(segment) for segment in path.split("/")):
        return path
    return "/".join(recorded(segment) for segment in path.split("/"))


def hash_secret(value: str) -> SecretHash:
    return SecretHash(hashlib.sha256(value.encode("utf-8")).hexdigest())


def short(value: PlaintextSecret) -> str:
    """A harmless excerpt to tell tokens apart in lists: prefix and 6 body characters."""
    return value[: 4 + SHORT_LENGTH]
