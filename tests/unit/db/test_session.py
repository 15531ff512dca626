"""Engines: what the server refuses at start rather than failing on a request."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from keyplane.db.session import make_engine, require_sqlite
from tests.conftest import PG_URL


def test_a_sqlite_too_old_for_returning_is_refused_at_start_saying_what_to_do():
    with pytest.raises(RuntimeError) as refused:
        require_sqlite((3, 31, 1))
    assert "SQLite 3.35.0 or newer" in str(refused.value)
    assert "3.31.1" in str(refused.value) and "postgresql+psycopg" in str(refused.value)
    require_sqlite((3, 35, 0))  # the oldest it takes


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_failed_statement_names_no_parameter_value(backend, tmp_path):
    """A database error reaches the log with its SQL, never its values (they can be
    emails, hashes of credentials, sealed secrets)."""
    if backend == "postgresql" and not PG_URL:
        pytest.skip("KEYPLANE_TEST_DATABASE_URL is not set")
    engine = make_engine(PG_URL if backend == "postgresql" else f"sqlite:///{tmp_path}/x.db")
    try:
        with engine.connect() as connection, pytest.raises(DBAPIError) as failed:
            connection.execute(text("SELECT * FROM no_such_table WHERE v = :v"), {"v": "sekrit-42"})
        assert "no_such_table" in str(failed.value)
        assert "sekrit-42" not in str(failed.value) and "sekrit-42" not in repr(failed.value)
    finally:
        engine.dispose()
