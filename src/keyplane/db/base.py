"""Declarative base and column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Cached:
    """Rows that per-process caches hold or depend on (credentials, roles, the directory).

    Any committed change to such a row, through the ORM or a bulk ``update()`` /
    ``delete()``, drops every cache on every replica (``keyplane.runtime``); a model
    opts in here, where it is defined, rather than each use case remembering to.
    Columns in ``uncached_columns`` are shown by no cache, so writing only them (the
    coalesced ``lastUsedAt`` bookkeeping) drops nothing.
    """

    uncached_columns: ClassVar[frozenset[str]] = frozenset()


class EntityCredential:
    """A credential that belongs to a workspace or deployment (its ``workspace_id`` and
    ``deployment_id`` columns) and is deleted with it: API tokens, deployment API keys,
    workload identities. ``audit_type`` names it as an audit event's target, so that the
    events of one that ends with its entity are those of its own delete."""

    audit_type: ClassVar[str]
