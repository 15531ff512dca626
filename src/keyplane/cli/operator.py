"""What the operator's commands on the server's database share: one unit of work that
holds the audit chain's lock, so that a change and its audit event commit together,
and the operator's event itself. Domain errors end the command with the exit code the
API's answer would give."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from keyplane.cli.errors import of_domain

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@contextmanager
def audited_unit() -> Iterator[Session]:
    """A unit of work on the database in the server's settings, holding the chain's lock;
    it commits when the block ends."""
    from keyplane.audit.recorder import locked_chain
    from keyplane.config import get_settings
    from keyplane.db.session import make_engine, make_sessionmaker
    from keyplane.domain.errors import DomainError

    engine = make_engine(get_settings().resolved_database_url)
    try:
        with locked_chain(make_sessionmaker(engine)) as db:
            yield db
    except DomainError as error:
        raise of_domain(error) from None
    finally:
        engine.dispose()


def record(
    db: Session,
    action: str,
    organization_id: str,
    command: str,
    target: tuple[str, str],
    details: dict[str, Any],
) -> None:
    """The audit event of an operator's ``command`` (``keyplane admin …``), in ``db``'s
    unit (an :func:`audited_unit`)."""
    from keyplane.audit.recorder import EventDraft, append_locked

    event = EventDraft(action, organization_id=organization_id)
    event.actor_kind, event.actor_name = "OPERATOR", command
    event.target_type, event.target_id = target
    event.details = details
    append_locked(db, [event])
