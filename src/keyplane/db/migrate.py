"""Apply Alembic migrations from Python (``keyplane server`` and ``keyplane admin migrate``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from keyplane.db.session import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class SchemaAhead(RuntimeError):
    """The database was migrated by a newer keyplane: this one must not touch it."""


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; safe to repeat, and safe to
    run from several processes at once (``migrations/env.py``). What the migrations
    report (each step, a row left for the operator) goes to stderr.

    Every area's migrations branch from the core revision, so ``heads`` is the target.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        if schema_state(engine) == "ahead":
            raise SchemaAhead("the database was migrated by a newer version of keyplane")
    finally:
        engine.dispose()
    with _reported(logging.getLogger("alembic.runtime.migration")):
        command.upgrade(alembic_config(url), "heads")


@contextmanager
def _reported(log: logging.Logger) -> Iterator[None]:
    """``log``'s records on stderr meanwhile, unless the process shows them already (a
    server whose logging is set up, a test capturing them): Alembic gives its loggers a
    NullHandler, so otherwise even a warning for the operator would vanish."""
    if _shown(log):
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("migrate: %(message)s"))
    handler.addFilter(_worth_showing)
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def _worth_showing(record: logging.LogRecord) -> bool:
    """Each step and every warning, not Alembic's notes on itself."""
    return record.levelno >= logging.WARNING or record.getMessage().startswith("Running ")


def _shown(log: logging.Logger | None) -> bool:
    while log is not None:
        if any(not isinstance(h, logging.NullHandler) for h in log.handlers):
            return True
        log = log.parent if log.propagate else None
    return False


SchemaState = Literal["current", "empty", "behind", "ahead"]


def schema_state(engine: Engine) -> SchemaState:
    """Whether the database at ``engine`` has this keyplane's schema: ``empty`` (never
    migrated), ``behind`` (migrations are pending), ``ahead`` (a newer keyplane
    migrated it) or ``current``."""
    with engine.connect() as connection:
        have = set(MigrationContext.configure(connection).get_current_heads())
    if not have:
        return "empty"
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(False)))
    heads = set(script.get_heads())
    if have == heads:
        return "current"
    known = {revision.revision for revision in script.walk_revisions()}
    return "behind" if have <= known else "ahead"
