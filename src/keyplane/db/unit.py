"""The unit of work: one transaction per request, admin command or job.

Services add, change and flush rows; they never commit, so one use case can call
another without either committing half of the work. The edge that opened the unit
commits it once, with :func:`commit` (a request: the ``DbSession`` dependency; a job
or an admin command: :func:`unit_of_work`). What must happen only if the change
commits (mail, cross-replica notifications, cache drops) is queued with
:func:`after_commit` and runs after the commit, from :func:`commit` alone.

A session made by :func:`make_sessionmaker` refuses ``commit()`` from anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from keyplane.domain.errors import Conflict

log = logging.getLogger(__name__)

# Row locks, for ``with_for_update`` of ``Session.get`` or a select: held until the unit
# ends, on PostgreSQL (SQLite has none; it lets one writer at a time instead). Take
# them on a use case's first read of the row, before the checks they protect.
RowLock = bool | dict[str, bool]
S = TypeVar("S", bound=Select[Any])
KEEP_ROW: RowLock = {"key_share": True, "read": True}  # FOR KEY SHARE: not deleted meanwhile
CHECK_AND_CHANGE: RowLock = {"key_share": True}  # FOR NO KEY UPDATE: one checker at a time
DELETE_ROW: RowLock = True  # FOR UPDATE: waits for every KEEP_ROW, as a delete would


def locked(query: S, lock: RowLock | None) -> S:
    """``query``, taking ``lock`` on the rows it reads (``Session.get`` takes it as
    ``with_for_update``)."""
    if lock is None:
        return query
    options = lock if isinstance(lock, dict) else {}
    return query.with_for_update(
        read=options.get("read", False), key_share=options.get("key_share", False)
    )


_AFTER_COMMIT = "keyplane.after_commit"
_COMMITTING = "keyplane.committing"

Action = Callable[[], None]


class UnitSession(Session):
    """A session whose transaction belongs to the unit of work that opened it."""

    def commit(self) -> None:
        if not self.info.get(_COMMITTING):
            raise RuntimeError(
                "commit() outside the unit of work: services flush, the edge commits "
                "(keyplane.db.unit.commit)"
            )
        super().commit()


def after_commit(db: Session, action: Action) -> None:
    """Run ``action`` once this unit of work has committed; never if it rolls back.

    Actions run in the order they were queued. An action that raises does not stop
    the others; the first error is raised to the edge after all have run, so the
    caller learns of it (a mail not sent, say) while the committed change stands.
    """
    db.info.setdefault(_AFTER_COMMIT, []).append(action)


CHANGED = "keyplane.credentials_changed"


def credentials_changed(db: Session) -> None:
    """Mark that this unit of work changes what caches hold (credentials, roles, the
    directory of organizations, workspaces and deployments).

    When it commits, every cached principal and cached answer is dropped, here and
    (through the notifier) on every other replica; if it rolls back, nothing is.
    """
    db.info[CHANGED] = True


def commit(db: Session) -> None:
    """Commit the unit of work, then run its :func:`after_commit` actions."""
    db.info[_COMMITTING] = True
    try:
        db.commit()
    finally:
        db.info.pop(_COMMITTING, None)
    actions: list[Action] = db.info.pop(_AFTER_COMMIT, [])
    first: BaseException | None = None
    for action in actions:
        try:
            action()
        except Exception as error:
            log.warning("an after-commit action failed: %s", type(error).__name__)
            first = first or error
    if first is not None:
        raise first


def flush_unique(db: Session, message: str) -> None:
    """Flush; if a unique constraint refuses a row, raise Conflict(``message``).

    A refused flush has already rolled the database transaction back, so the
    Conflict ends the whole unit of work with nothing half made: the edge discards
    it. (No SAVEPOINT: on SQLite, pysqlite commits a SAVEPOINT that opens the
    transaction when it is released, which would break the unit's atomicity.)
    """
    try:
        db.flush()
    except IntegrityError as error:
        raise Conflict(message) from error


def discard(db: Session) -> None:
    """Roll the unit of work back and forget what was queued after it."""
    db.info.pop(_AFTER_COMMIT, None)
    db.rollback()


@contextmanager
def unit_of_work(
    sessions: sessionmaker[Session], *, commit_on: tuple[type[BaseException], ...] = ()
) -> Iterator[Session]:
    """A session whose work commits when the block ends, or rolls back if it raises.

    ``commit_on`` names exceptions that are answers rather than failures (an OAuth
    refusal that spends a one-time code or revokes a login): what the work did before
    raising one commits, then the exception goes on.
    """
    db = sessions()
    try:
        yield db
    except commit_on:
        commit(db)
        raise
    except BaseException:
        discard(db)
        raise
    else:
        commit(db)
    finally:
        db.close()


@contextmanager
def statements(engine: Engine) -> Iterator[Connection]:
    """A unit of work of Core statements alone, for a hot path that writes rows
    without ORM objects (a spent ID token): it commits when the block ends, or rolls
    back if it raises. Nothing can be queued after it commits, and no cache is
    dropped: use it only for rows and columns that no cache holds (a model's
    ``uncached_columns``).

    It costs a quarter of a session's unit on SQLite (no session, no identity map, no
    flush), which matters where it runs once per request."""
    with engine.begin() as connection:
        yield connection


READS_ONLY = "keyplane.reads_only"


def reading(sessions: sessionmaker[Session], engine: Engine) -> Session:
    """A unit of work for reads alone, each statement in a transaction of its own.

    ``engine`` is the sessions' engine in autocommit (:func:`reads_engine`): no BEGIN
    and no COMMIT round trip, two of a plain read's three on PostgreSQL. What a read
    sees is unchanged there: at READ COMMITTED every statement of a transaction takes a
    snapshot of its own anyway. Such a unit cannot write or lock rows (each would end
    at once): a flush with changes, or an INSERT, UPDATE, DELETE or locking SELECT
    through it, raises RuntimeError.
    """
    db = sessions(bind=engine)
    db.info[READS_ONLY] = True
    return db


def reads_engine(engine: Engine) -> Engine:
    """``engine``'s pool, handing out connections in autocommit (for :func:`reading`)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@event.listens_for(UnitSession, "before_flush")
def _refuse_flush_in_reads(db: Session, _context: Any, _instances: Any) -> None:
    if db.info.get(READS_ONLY) and (db.new or db.dirty or db.deleted):
        raise RuntimeError("a unit of work for reads alone cannot write (keyplane.db.unit)")


@event.listens_for(UnitSession, "do_orm_execute")
def _refuse_writes_in_reads(state: ORMExecuteState) -> None:
    if state.session.info.get(READS_ONLY) and (
        state.is_insert
        or state.is_update
        or state.is_delete
        or getattr(state.statement, "_for_update_arg", None) is not None
    ):
        raise RuntimeError(
            "a unit of work for reads alone cannot write or lock rows (keyplane.db.unit)"
        )


@contextmanager
def read_only(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads alone: whatever it did is rolled back when the block ends."""
    with sessions() as db:
        yield db


def queued(db: Session) -> list[Any]:
    """What is queued to run after this unit commits (for tests and diagnostics)."""
    return list(db.info.get(_AFTER_COMMIT, []))
