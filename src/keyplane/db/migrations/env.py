"""Alembic's entry: every pending migration in one transaction, one migrator at a time.

All of an upgrade commits together or not at all, on both databases: SQLite's driver
would otherwise run each DDL statement outside any transaction, so a killed upgrade
left tables that its re-run then refused to create. On SQLite, foreign keys are off
while the migrations run (Alembic rebuilds a table to change it, and a DROP TABLE
with them on deletes every row that points at it, through ON DELETE CASCADE) and
checked before the commit. On PostgreSQL an advisory lock makes a second migrator
wait for the first, then find nothing left to do.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, event, text

import keyplane.models  # noqa: F401  (registers every area's tables)
from keyplane.db.base import Base
from keyplane.db.session import make_engine

MIGRATION_LOCK = 0x6B70_6D69  # "kpmi": the advisory lock key of keyplane migrations


def _sqlite_for_migrations(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver begins nothing on its own
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction


def _begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before reading


config = context.config
engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
sqlite = engine.dialect.name == "sqlite"
if sqlite:
    event.listen(engine, "connect", _sqlite_for_migrations)  # after make_engine's pragmas
    event.listen(engine, "begin", _begin)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
        if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
            raise RuntimeError(f"the migrations left rows pointing at nothing: {broken[:5]}")
engine.dispose()
