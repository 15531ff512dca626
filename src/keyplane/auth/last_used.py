"""Record when a credential was last used, without a database write per request."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import ColumnElement, SQLColumnExpression, Table, or_, update
from sqlalchemy.orm import Session, sessionmaker

from keyplane.cache import Throttle
from keyplane.db.base import Base, utcnow
from keyplane.db.unit import unit_of_work

log = logging.getLogger(__name__)


def later_use(column: SQLColumnExpression[datetime | None], when: datetime) -> ColumnElement[bool]:
    """Whether ``when`` is later than the use ``column`` holds: replicas note uses at
    once, and the one that read its clock first may write last."""
    return or_(column.is_(None), column < when)


class LastUsedRecorder:
    """Writes ``last_used_at`` at most once per credential per interval (per process).

    Across replicas each process writes at most once per interval, so a token in use
    everywhere costs one small UPDATE per replica per minute.
    """

    def __init__(self, sessions: sessionmaker[Session], interval_seconds: float) -> None:
        self._sessions = sessions
        self._gate: Throttle[str] = Throttle(interval_seconds)

    def is_due(self, credential_id: str, now: float) -> bool:
        """Whether a use at monotonic ``now`` should be written (without claiming it)."""
        return self._gate.is_due(credential_id, now)

    def due(self, credential_id: str, now: float | None = None) -> bool:
        """True (once per interval) when this use, at monotonic ``now``, should be written."""
        return self._gate.claim(credential_id, now)

    def write(self, model: type[Base], credential_id: str, when: datetime | None = None) -> None:
        table = model.__table__
        assert isinstance(table, Table)
        when = when or utcnow()
        try:
            with unit_of_work(self._sessions) as db:  # a job of its own, beside the request
                db.execute(
                    update(table)
                    .where(table.c.id == credential_id, later_use(table.c.last_used_at, when))
                    # Keep updated_at: being used is not an update of the token.
                    .values(last_used_at=when, updated_at=table.c.updated_at)
                )
        except Exception:  # a failed bookkeeping write must not fail the request
            log.exception("could not record last use of credential %s", credential_id)
            self._gate.forget(credential_id)
