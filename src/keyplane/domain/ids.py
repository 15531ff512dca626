"""Opaque, unguessable identifiers for stored objects."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.digits + string.ascii_lowercase


def new_id() -> str:
    """A 25-character id: 'c' then 24 random base36 characters (124 bits)."""
    return "c" + "".join(secrets.choice(_ALPHABET) for _ in range(24))
