"""Opaque, unguessable identifiers for stored objects."""

from __future__ import annotations

import re
import secrets
import string

_ALPHABET = string.digits + string.ascii_lowercase
_SHAPE = re.compile(r"c[0-9a-z]{24}")


def new_id() -> str:
    """A 25-character id: 'c' then 24 random base36 characters (124 bits)."""
    return "c" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def is_id_shaped(value: str) -> bool:
    """Whether ``value`` could be an id. No credential has this shape (theirs start with
    a ``kp?_`` prefix and are longer), so an error message may repeat such a value."""
    return _SHAPE.fullmatch(value) is not None


def shown(value: str) -> str:
    """``value`` for an error message if it could be an id (or is too short to be a
    secret), else words that stand for it: a message never repeats what may be a
    secret pasted into the wrong place."""
    return value if len(value) < 8 or is_id_shaped(value) else "(the id given)"
