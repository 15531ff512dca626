"""What a deployment variable's key may be: the server enforces it, the CLI checks it first."""

from __future__ import annotations

import re

KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,254}$"
KEY_RULE = "a letter or _, then letters, digits or _, at most 255 characters"
_KEY = re.compile(KEY_PATTERN)


def is_key(text: str) -> bool:
    """True if ``text`` is a valid environment variable name (:data:`KEY_PATTERN`)."""
    return _KEY.fullmatch(text) is not None
