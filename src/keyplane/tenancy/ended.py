"""The credentials that go with a deleted workspace or deployment, and their audit events.

Deleting an entity deletes its API tokens, deployment API keys and workload identities
(foreign keys that cascade). Each one that ends so gets the event its own delete would
have (``token.delete``, ``api_key.delete``, ``workload_identity.delete``, with its id as
the target), saying in its details what it went with: ``keyplane audit list
--target-id <id>`` then shows a credential's whole life, however it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyplane.audit.recorder import SUCCESS, EventDraft
from keyplane.auth.principal import Principal
from keyplane.db.base import Base, EntityCredential


@dataclass(frozen=True)
class Ended:
    """A credential deleted with its entity."""

    target_type: str  # its EntityCredential.audit_type
    id: str
    name: str


def credentials_of(db: Session, column: str, entity_id: str) -> list[Ended]:
    """The credentials whose ``column`` (``workspace_id``, ``deployment_id``) is
    ``entity_id``: those deleting that entity deletes. The caller holds the entity's
    row lock, so none is added meanwhile."""
    found: list[Ended] = []
    for model in _credential_models():
        rows = db.execute(
            select(model.id, model.name).where(getattr(model, column) == entity_id)
        ).all()
        found += [Ended(model.audit_type, row.id, row.name) for row in rows]
    return sorted(found, key=lambda e: (e.target_type, e.id))


def _credential_models() -> list[Any]:
    # Every mapped model marked so, wherever its area defines it (apikeys' is not
    # tenancy's to import).
    models = [mapper.class_ for mapper in Base.registry.mappers]
    return sorted(
        (m for m in models if issubclass(m, EntityCredential)), key=lambda m: m.audit_type
    )


def events(
    principal: Principal, org_id: str, ended: list[Ended], entity: tuple[str, str]
) -> list[EventDraft]:
    """The delete event of each credential in ``ended``, which went with ``entity``
    (its type and id), deleted by ``principal``."""
    drafts = []
    for credential in ended:
        action = f"{credential.target_type}.delete"
        draft = EventDraft(action, SUCCESS, org_id, status_code=204).by(principal)
        draft.target_type, draft.target_id = credential.target_type, credential.id
        draft.details = {
            "name": credential.name,
            "deletedWith": {"type": entity[0], "id": entity[1]},
        }
        drafts.append(draft)
    return drafts
