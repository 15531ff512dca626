"""Apply Alembic migrations from Python (``keyplane server`` and ``keyplane admin migrate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; safe to repeat.

    Every area's migrations branch from the core revision, so ``heads`` is the target.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "heads")


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
