"""Record which permissions each credential exercised, without a write per request.

``authorize()`` tells a credential's principal each permission it found held; the
principal notes it here (:meth:`PermissionUses.note`): a dict lookup when the same
use was noted within the interval, else the use is queued in memory. The runtime
writes what is queued as an after-commit action of the next unit of work that commits
in this process (:meth:`PermissionUses.flush`), in a unit of its own: never inside the
request's transaction, which may hold SQLite's write lock, never on a second
connection while the request holds one, and never as a part of the request's work
that could make it fail.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from keyplane.cache import Throttle
from keyplane.db import upsert
from keyplane.db.base import utcnow
from keyplane.db.unit import unit_of_work
from keyplane.domain.access import Entity
from keyplane.domain.roles import Level, Permission
from keyplane.hygiene.models import PermissionUse

if TYPE_CHECKING:
    from keyplane.auth.principal import Principal

log = logging.getLogger(__name__)

# credential id, permission, entity level, entity id, workspace id ("" for none)
Key = tuple[str, Permission, Level, str, str]
# Uses remembered per process at most; beyond, the memory starts again empty (each
# use is then written once more, which is harmless).
LIMIT = 100_000
TOKEN, API_KEY, WORKLOAD_IDENTITY = "API_TOKEN", "DEPLOYMENT_API_KEY", "WORKLOAD_IDENTITY"
# Which typed foreign key a credential's row sets, by principal kind.
_TYPED = {
    "ORGANIZATION_TOKEN": (TOKEN, "token_id"),
    "WORKSPACE_TOKEN": (TOKEN, "token_id"),
    "DEPLOYMENT_TOKEN": (TOKEN, "token_id"),
    "DEPLOYMENT_KEY": (API_KEY, "api_key_id"),
    "WORKLOAD_IDENTITY": (WORKLOAD_IDENTITY, "workload_identity_id"),
}
_BATCH = 500  # rows per statement: well under SQLite's limit of bound parameters
_KEY_COLUMNS = ["credential_id", "permission", "entity_level", "entity_id", "workspace_id"]


@dataclass(frozen=True)
class _Use:
    kind: str
    organization_id: str
    at: datetime


class PermissionUses:
    """Writes each (credential, permission, entity) use at most once per interval (per
    process). Thread-safe: requests note uses from the thread pool."""

    def __init__(self, sessions: sessionmaker[Session], interval_seconds: float) -> None:
        self._sessions = sessions
        self._gate: Throttle[Key] = Throttle(interval_seconds, LIMIT)
        self._queued: dict[Key, _Use] = {}
        self._lock = threading.Lock()

    def note(self, principal: Principal, permission: Permission, entity: Entity) -> None:
        """Queue this use unless it was noted within the interval."""
        key = (principal.id, permission, entity.level, entity.id, entity.workspace_id or "")
        if not self._gate.claim(key):
            return
        with self._lock:
            self._queued[key] = _Use(principal.kind.value, entity.organization_id, utcnow())

    @property
    def queued(self) -> bool:
        return bool(self._queued)

    def flush(self) -> None:
        """Write what is queued, in a unit of work of its own; a failure is logged and
        the uses are noted again on their next occurrence."""
        with self._lock:
            queued, self._queued = self._queued, {}
        if not queued:
            return
        rows = [_row(key, use) for key, use in queued.items()]
        try:
            self._write(rows)
        except IntegrityError:
            # A credential deleted since its use: its rows would be deleted with it, so
            # they are dropped; the others are written one by one.
            for row in rows:
                with contextlib.suppress(IntegrityError):
                    self._write([row])
        except Exception:  # bookkeeping must not fail whatever committed before it
            log.exception("could not record %d permission uses", len(rows))
            for key in queued:
                self._gate.forget(key)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with unit_of_work(self._sessions) as db:
            for start in range(0, len(rows), _BATCH):
                db.execute(_upsert(db, rows[start : start + _BATCH]))


def _upsert(db: Session, rows: list[dict[str, Any]]) -> Any:
    """New rows, or a later time on the rows there: a replica whose note is older than
    the one another replica wrote first leaves it as it is."""
    statement = upsert.insert(db, PermissionUse).values(rows)
    later = statement.excluded.last_used_at
    return statement.on_conflict_do_update(
        index_elements=_KEY_COLUMNS,
        set_={"last_used_at": later},
        where=PermissionUse.last_used_at < later,
    )


def _row(key: Key, use: _Use) -> dict[str, Any]:
    credential_id, permission, level, entity_id, workspace_id = key
    kind, typed = _TYPED[use.kind]
    return {
        "credential_id": credential_id,
        "permission": permission.value,
        "entity_level": level.value,
        "entity_id": entity_id,
        "workspace_id": workspace_id,
        "credential_kind": kind,
        "organization_id": use.organization_id,
        "token_id": None,
        "api_key_id": None,
        "workload_identity_id": None,
        typed: credential_id,
        "last_used_at": use.at,
    }
