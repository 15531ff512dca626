"""Upgrading in place: every row kept, all or nothing, one migrator at a time, and a
database of a newer keyplane left alone. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from keyplane.db.migrate import SchemaAhead, alembic_config, upgrade
from tests.conftest import PG_URL, drop_postgres_database, fresh_postgres_database

# The rows of a small tenant, as a keyplane of revision 0008 held them: each table's
# own values; every other column takes a value of its type (see _row).
TENANT: list[tuple[str, dict[str, Any]]] = [
    ("organizations", {"id": "org1"}),
    ("users", {"id": "u1", "email": "owner@acme.example"}),
    ("workspaces", {"id": "ws1", "organization_id": "org1"}),
    ("deployments", {"id": "dep1", "organization_id": "org1", "workspace_id": "ws1"}),
    ("api_tokens", {"id": "tok1", "organization_id": "org1", "scope": "DEPLOYMENT",
                    "workspace_id": "ws1", "deployment_id": "dep1", "secret_hash": "h1"}),
    ("role_bindings", {"id": "rb1", "subject_id": "u1", "user_id": "u1", "token_id": None,
                       "organization_id": "org1", "level": "ORGANIZATION", "entity_id": "org1",
                       "role": "ORGANIZATION_OWNER", "workspace_id": None,
                       "deployment_id": None}),
    ("role_bindings", {"id": "rb2", "subject_id": "tok1", "user_id": None, "token_id": "tok1",
                       "organization_id": "org1", "level": "DEPLOYMENT", "entity_id": "dep1",
                       "role": "DEPLOYMENT_ADMIN", "workspace_id": "ws1",
                       "deployment_id": "dep1"}),
    ("deployment_variables", {"id": "v1", "organization_id": "org1", "deployment_id": "dep1",
                              "key": "A", "value": "1",
                              "is_secret": False, "encrypted_value": None}),
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keyplane.db'}"
        return
    if not PG_URL:
        pytest.skip("KEYPLANE_TEST_DATABASE_URL is not set")
    url, name = fresh_postgres_database(PG_URL)
    try:
        yield url
    finally:
        drop_postgres_database(PG_URL, name)


def _row(table: sa.Table, given: dict[str, Any]) -> dict[str, Any]:
    def value(column: sa.Column[Any]) -> Any:
        if column.name in given:
            return given[column.name]
        kind = column.type
        if isinstance(kind, sa.JSON):
            return [] if column.name == "allowed_ip_ranges" else {}
        if isinstance(kind, sa.Boolean):
            return False
        if isinstance(kind, sa.Integer):
            return 1
        if isinstance(kind, sa.DateTime):
            return datetime(2026, 1, 2, 3, 4, 5)
        return f"{column.name}-{given.get('id', '')}"[: getattr(kind, "length", None) or 200]

    return {column.name: value(column) for column in table.columns}


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.scalar(sa.text(f"SELECT count(*) FROM {name}"))
            for name in dict(TENANT)
        }


def test_an_upgrade_keeps_every_row_of_an_older_database(database: str) -> None:
    """SQLite rebuilds a table to change it; with foreign keys on, the DROP TABLE of
    that rebuild deleted, by ON DELETE CASCADE, every workspace, deployment, token and
    role of an organization: the owner's token was unknown after the upgrade."""
    command.upgrade(alembic_config(database), "0008_workload_identities")
    engine = sa.create_engine(database)
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.begin() as connection:
        for name, given in TENANT:
            connection.execute(tables.tables[name].insert(), [_row(tables.tables[name], given)])
    before = _counts(engine)
    upgrade(database)
    try:
        assert _counts(engine) == before
        with engine.connect() as connection:
            roles = connection.execute(sa.text("SELECT subject_id, role FROM role_bindings"))
            assert sorted(roles.tuples()) == [("tok1", "DEPLOYMENT_ADMIN"),
                                              ("u1", "ORGANIZATION_OWNER")]  # fmt: skip
    finally:
        engine.dispose()


def test_a_failed_upgrade_leaves_the_database_as_it_was(database: str) -> None:
    """A table in the way of migration 0008 fails the upgrade there; the seven before
    it are undone too, so that the operator's re-run starts from where it was."""
    engine = sa.create_engine(database)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE workload_identities (x INTEGER)"))
    with pytest.raises(sa.exc.DBAPIError):
        upgrade(database)
    try:
        assert set(sa.inspect(engine).get_table_names()) == {"workload_identities"}
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE workload_identities"))
        upgrade(database)  # and the re-run succeeds
        assert "organizations" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _keyplane(database: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KEYPLANE_DATABASE_URL": database}
    return subprocess.Popen(
        [sys.executable, "-m", "keyplane", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_two_migrations_at_once_both_succeed(database: str) -> None:
    """Two servers starting at once on one new database: the second waits for the
    first and finds nothing to do (on PostgreSQL; SQLite takes its write lock)."""
    runs = [_keyplane(database, "admin", "migrate") for _ in range(2)]
    answers = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], answers
    assert all("database is up to date" in err for _, err in answers)


def test_a_database_of_a_newer_keyplane_is_refused_in_one_line(database: str) -> None:
    upgrade(database)
    engine = sa.create_engine(database)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()
    with pytest.raises(SchemaAhead):
        upgrade(database)
    for args in (("admin", "migrate"), ("server", "--port", "1")):
        run = _keyplane(database, *args)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 1, (out, err)
        assert "migrated by a newer version of keyplane" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 3, err


def test_what_a_migration_leaves_for_the_operator_is_shown_on_stderr(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'keyplane.db'}"
    command.upgrade(alembic_config(database), "0013_sso_domain_verification")
    engine = sa.create_engine(database)
    with engine.begin() as connection:
        for user_id, email in (("u1", "bob@münchen.example"), ("u2", "bob@xn--mnchen-3ya.example")):
            connection.execute(
                sa.text(
                    "INSERT INTO users (id, email, full_name, created_at, updated_at) "
                    "VALUES (:id, :email, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": user_id, "email": email},
            )
    engine.dispose()
    run = _keyplane(database, "admin", "migrate")
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert "0013_sso_domain_verification -> 0014_canonical_emails" in err  # each step
    assert "u1 (bob@münchen.example): another account has bob@xn--mnchen-3ya.example" in err
