"""Shared fixtures: a real database per backend, the real app, and a populated world.

Every test that uses ``db_url`` runs once on SQLite and once on PostgreSQL when
``KEYPLANE_TEST_DATABASE_URL`` is set (CI sets it) or PostgreSQL answers on its local
default address; otherwise the PostgreSQL runs are skipped, and the session's header
and summary say so in one line. Redis (``KEYPLANE_TEST_REDIS_URL``) likewise.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.db.base import Base
from keyplane.db.migrate import upgrade
from keyplane.db.session import make_engine
from keyplane.runtime import Runtime
from tests.asgi_client import AppClient
from tests.factories import World
from tests.workload_issuer import fresh_issuer, workload_issuer  # noqa: F401 (fixtures)

# The servers' default local addresses: used when a variable is unset and they answer,
# so `make test` on a machine running PostgreSQL and Redis runs their variants too. An
# empty variable (KEYPLANE_TEST_DATABASE_URL=) turns a backend off.
LOCAL = {
    "KEYPLANE_TEST_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "KEYPLANE_TEST_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _answers(variable: str, url: str) -> bool:
    try:
        if variable == "KEYPLANE_TEST_REDIS_URL":
            import redis

            return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
        probe = create_engine(url, connect_args={"connect_timeout": 2})
        try:
            with probe.connect():
                return True
        finally:
            probe.dispose()
    except Exception:
        return False


def _backends() -> list[str]:
    """Set the variables from the local defaults where they answer; one line per backend."""
    said = []
    for variable, url in LOCAL.items():
        name = "PostgreSQL" if "DATABASE" in variable else "Redis"
        given = os.environ.get(variable)
        if given:
            said.append(f"{name} at {variable}")
        elif given is None and _answers(variable, url):
            os.environ[variable] = url
            said.append(f"{name} at {url} (the local default; {variable} is unset)")
        else:
            why = "is empty" if given == "" else f"is unset and nothing answers at {url}"
            said.append(f"{name} variants SKIPPED: {variable} {why}")
    return said


REDIS_VARIABLE = "KEYPLANE_TEST_REDIS_URL"


def _redis_of_this_worker() -> None:
    """Under ``pytest -n`` each worker uses a Redis database of its own (1, 2, …), so
    that rate-limit windows and invalidations of one worker's tests never reach
    another's. (Each worker's PostgreSQL database is its own already: see db_url.)"""
    worker, url = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get(REDIS_VARIABLE)
    if worker and url:
        parts = urlsplit(url)
        os.environ[REDIS_VARIABLE] = urlunsplit(parts._replace(path=f"/{1 + int(worker[2:])}"))


BACKEND_REPORT = "keyplane test backends: " + "; ".join(_backends())
_redis_of_this_worker()
PG_URL = os.environ.get("KEYPLANE_TEST_DATABASE_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="KEYPLANE_TEST_DATABASE_URL is not set: PostgreSQL runs skipped"
        ),
    ),
]


def pytest_report_header() -> str:
    return BACKEND_REPORT


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Again at the end (and under -q, which hides the header), after the slowest
    # durations, just above the count of passed tests: where a reader looks.
    terminalreporter.write_line(BACKEND_REPORT, yellow="SKIPPED" in BACKEND_REPORT)


def fresh_postgres_database(base_url: str) -> tuple[str, str]:
    """Create an empty database next to the one in ``base_url``; returns (url, name)."""
    name = f"kp_test_{secrets.token_hex(4)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    head, _, _ = base_url.rpartition("/")
    return f"{head}/{name}", name


def drop_postgres_database(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'keyplane.db'}"
        upgrade(url)
        yield url
        return
    assert PG_URL
    url, name = fresh_postgres_database(PG_URL)
    upgrade(url)
    yield url
    drop_postgres_database(PG_URL, name)


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path, public_url="http://testserver")


@pytest.fixture
def runtime(settings: Settings, engine: Engine) -> Iterator[Runtime]:
    _empty(engine)
    runtime = Runtime.create(settings, engine=engine)
    yield runtime
    runtime.close()


@pytest.fixture
def app(settings: Settings, runtime: Runtime):  # type: ignore[no-untyped-def]
    return create_app(settings, runtime)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # An httpx.Client like TestClient, without its portal thread (tests/asgi_client.py).
    with AppClient(app) as client:
        yield client  # type: ignore[misc]


@pytest.fixture
def world(client: TestClient, runtime: Runtime) -> World:
    return World.create(client, runtime)
