"""``INSERT … ON CONFLICT`` on either backend keyplane runs on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert(db: Session, model: type[Any]) -> Any:
    """The insert construct of ``db``'s dialect, which offers ``on_conflict_do_nothing``
    and ``on_conflict_do_update`` (PostgreSQL's and SQLite's, the same clause)."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)
