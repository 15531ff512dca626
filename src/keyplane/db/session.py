"""Engines and sessions."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from keyplane.db.unit import UnitSession

# One-time credentials are consumed with UPDATE … RETURNING and ID tokens spent with
# INSERT … ON CONFLICT … RETURNING, which SQLite has had since 3.35 (March 2021).
SQLITE_MIN = (3, 35, 0)


def make_engine(url: str, **options: Any) -> Engine:
    # A database error names its SQL in the log, never the values bound to it: emails,
    # hashes of credentials and sealed secrets are among them.
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        require_sqlite(sqlite3.sqlite_version_info)
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options.setdefault("pool_size", 10)
    engine = create_engine(url, **options)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


def require_sqlite(version: tuple[int, ...]) -> None:
    """Refuse, at start, a SQLite too old for the statements keyplane runs."""
    if tuple(version) < SQLITE_MIN:
        have = ".".join(map(str, version))
        raise RuntimeError(
            f"keyplane needs SQLite {'.'.join(map(str, SQLITE_MIN))} or newer and this "
            f"Python links SQLite {have}: use a Python built with a newer SQLite, or "
            "PostgreSQL (KEYPLANE_DATABASE_URL=postgresql+psycopg://…)"
        )


# A pooled connection unused for longer than this is pinged before it is handed out,
# so that one broken while idle (a database restart, a proxy's idle timeout) is
# replaced rather than failing the request; a busy connection is not, which saves a
# round trip on nearly every request (SQLAlchemy's pool_pre_ping pings every time).
IDLE_PING_SECONDS = 1.0


def _note_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(
    dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    checked_in = record.info.get("checked_in")
    if checked_in is None or time.monotonic() - checked_in < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        # The ping opened a transaction (the driver begins one before a statement):
        # end it, so that the connection is handed out as the pool keeps it, idle, and
        # a unit of work in autocommit (keyplane.db.unit.reading) can switch it.
        dbapi_connection.rollback()
    except Exception as error:
        # The pool discards this connection and checks out another (SQLAlchemy's
        # documented pessimistic disconnect handling).
        raise DisconnectionError() from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers go on while one writer commits (several server workers, tests).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, class_=UnitSession, expire_on_commit=False)
