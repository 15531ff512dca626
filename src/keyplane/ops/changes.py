"""Which units of work change what caches hold, and telling every replica they did.

A flush or bulk statement that touches a row of a ``Cached`` model marks its unit
(``keyplane.db.unit.credentials_changed``); when the unit commits, the notifier tells
every replica (inside the transaction on PostgreSQL, so that it is delivered if and
only if it commits; after it on Redis). The server's runtime watches its sessions so;
so does every operator command that writes (``keyplane admin …``), or a running
server would go on answering from what the command changed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from keyplane.config import Settings
from keyplane.db.base import Base, Cached
from keyplane.db.session import make_sessionmaker
from keyplane.db.unit import CHANGED, credentials_changed
from keyplane.ops import metrics
from keyplane.ops.notifier import Notifier, make_notifier


def watch(
    sessions: sessionmaker[Session],
    notifier: Notifier | None,
    on_commit: Callable[[], None] = lambda: None,
) -> None:
    """Mark the units of ``sessions`` that change cached rows; when one commits, call
    ``on_commit`` (this process's own caches) and tell the other replicas."""

    def before_commit(db: Session) -> None:
        mark_cached_changes(db)  # the commit's own flush comes after this event
        if notifier is not None and notifier.transactional and db.info.get(CHANGED):
            notifier.publish_in(db.connection())

    def after_commit(db: Session) -> None:
        if db.info.pop(CHANGED, False):
            metrics.INVALIDATIONS.labels(source="local").inc()
            on_commit()
            if notifier is not None and not notifier.transactional:
                notifier.publish()

    event.listen(sessions, "before_flush", mark_cached_changes)
    event.listen(sessions, "do_orm_execute", _mark_bulk_changes)
    event.listen(sessions, "before_commit", before_commit)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", _forget_mark)


def announcing_sessions(engine: Engine, settings: Settings) -> sessionmaker[Session]:
    """Sessions for a command beside the servers (``keyplane admin …``): a change its
    units commit reaches every running server's caches, as the servers' own do."""
    sessions = make_sessionmaker(engine)
    watch(sessions, make_notifier(settings.notifier, engine, settings.redis_url))
    return sessions


def mark_cached_changes(db: Session, *_: Any) -> None:
    """A flush that adds, changes or deletes a Cached row changes what caches hold."""
    if CHANGED in db.info:
        return
    if any(isinstance(o, Cached) for o in (*db.new, *db.deleted)) or any(
        isinstance(o, Cached) and _changes_cached_columns(db, o) for o in db.dirty
    ):
        credentials_changed(db)


def _changes_cached_columns(db: Session, row: Cached) -> bool:
    quiet = row.uncached_columns
    if not quiet:
        return db.is_modified(row)
    state = inspect(row)
    return any(attr.history.has_changes() for attr in state.attrs if attr.key not in quiet)


def _mark_bulk_changes(state: ORMExecuteState) -> None:
    """A bulk ``update()`` or ``delete()`` of a Cached table, ORM or Core, is noticed too."""
    if not (state.is_update or state.is_delete) or CHANGED in state.session.info:
        return
    table = getattr(state.statement, "table", None)
    model = _cached_model(str(getattr(table, "name", "")))
    if model is None:
        return
    if state.is_update:
        values = getattr(state.statement, "_values", None) or {}
        written = {getattr(column, "key", column) for column in values}
        if written and written <= model.uncached_columns:
            return
    credentials_changed(state.session)


@functools.cache
def _cached_model(table_name: str) -> type[Cached] | None:
    """The Cached model mapped to the table of this name, if any."""
    for mapper in Base.registry.mappers:
        name = getattr(mapper.local_table, "name", None)
        if name == table_name and issubclass(mapper.class_, Cached):
            model: type[Cached] = mapper.class_
            return model
    return None


def _forget_mark(db: Session, *_: Any) -> None:
    db.info.pop(CHANGED, None)
