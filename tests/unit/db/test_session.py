"""Engines: what the server refuses at start rather than failing on a request."""

from __future__ import annotations

import pytest

from keyplane.db.session import require_sqlite


def test_a_sqlite_too_old_for_returning_is_refused_at_start_saying_what_to_do():
    with pytest.raises(RuntimeError) as refused:
        require_sqlite((3, 31, 1))
    assert "SQLite 3.35.0 or newer" in str(refused.value)
    assert "3.31.1" in str(refused.value) and "postgresql+psycopg" in str(refused.value)
    require_sqlite((3, 35, 0))  # the oldest it takes
