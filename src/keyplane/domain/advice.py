"""Least privilege from use: the smallest role that still covers what a credential did.

A credential (an API token of any scope, a deployment API key, a workload identity)
holds one role on its own entity, and a token may hold extra roles elsewhere. From the
permissions it exercised in a window of days (each on one entity, as
:func:`~keyplane.domain.access.authorize` found them held), :func:`advise` tries the
built-in roles of its own level in ascending order, never above the one it holds: the
first with which the credential, its other roles unchanged, would still hold every one
of those uses is the suggestion. "Would still hold" is asked of
:class:`~keyplane.domain.access.Grants`, the same rule the authorization check reads,
so the advice can never disagree with it. At the deployment level an organization's
custom deployment role with fewer permissions that also covers them is named too.

Pure: the caller loads the uses, the credential's bindings and the custom roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from keyplane.domain.access import Binding, Entity, Grants
from keyplane.domain.roles import (
    ROLE_ORDER,
    Level,
    Permission,
    granted_by,
    in_table_order,
    level_of,
    rank,
)

DEFAULT_DAYS = 90
MAX_DAYS = 365


@dataclass(frozen=True)
class Use:
    """One permission exercised on one entity, and when last."""

    permission: Permission
    entity: Entity
    last_used_at: datetime


@dataclass(frozen=True)
class Advice:
    current_role: str
    used: tuple[Permission, ...]  # in the table's order
    uses: tuple[Use, ...]  # those inside the window
    suggested_role: str  # a built-in role of the credential's level, or the current role
    suggested_custom_role: str | None  # a smaller custom deployment role that covers them
    stale: bool  # no use at all inside the window

    @property
    def fits(self) -> bool:
        """Whether the credential already holds the least role that covers its use."""
        return self.suggested_role == self.current_role and self.suggested_custom_role is None


def advise(
    credential: Grants,
    own: Binding,
    uses: Iterable[Use],
    custom_roles: Mapping[str, frozenset[Permission]],
    *,
    last_used_at: datetime | None,
    now: datetime,
    days: int = DEFAULT_DAYS,
) -> Advice:
    """The advice for a credential whose role on its own entity is ``own``.

    ``uses`` are all its recorded uses; those older than ``days`` before ``now`` do not
    count. ``last_used_at`` is when it last authenticated: a credential that did, but
    exercised no permission, is not stale. ``custom_roles`` are its organization's
    custom deployment roles (name → permissions).
    """
    since = now - timedelta(days=days)
    recent = tuple(u for u in uses if u.last_used_at >= since)
    stamps = [u.last_used_at for u in recent] + ([last_used_at] if last_used_at else [])
    latest = max(stamps) if stamps else None
    fitting = _Fitting(credential, own, recent)
    suggested = next((r for r in _not_above(own) if fitting.covered_by(r)), own.role)
    custom = None
    if own.level is Level.DEPLOYMENT:
        custom = _smaller_custom_role(fitting, own, suggested, custom_roles)
    return Advice(
        current_role=own.role,
        used=tuple(in_table_order({u.permission for u in recent})),
        uses=recent,
        suggested_role=suggested,
        suggested_custom_role=custom,
        stale=latest is None or latest < since,
    )


@dataclass(frozen=True)
class _Fitting:
    credential: Grants
    own: Binding
    uses: tuple[Use, ...]

    def covered_by(self, role: str, custom: frozenset[Permission] | None = None) -> bool:
        """Whether, holding ``role`` instead of its own, the credential holds every use."""
        others = [b for b in self.credential.bindings if b != self.own]
        instead = replace(self.own, role=role, custom_permissions=custom)
        grants = Grants.of([*others, instead])
        return all(u.permission in grants.permissions_at(u.entity) for u in self.uses)


def _not_above(own: Binding) -> list[str]:
    """The built-in roles of ``own``'s level that hold no more than it does, ascending."""
    order = ROLE_ORDER[own.level]
    if level_of(own.role) is own.level:
        return [r for r in order if r.rank <= rank(own.role)]
    return [r for r in order if granted_by(own.level, r) <= own.permissions]


def _smaller_custom_role(
    fitting: _Fitting,
    own: Binding,
    suggested: str,
    custom_roles: Mapping[str, frozenset[Permission]],
) -> str | None:
    """The custom role with the fewest permissions (then by name) that covers the uses,
    holds nothing the current role does not, and holds fewer than ``suggested``."""
    size = len(granted_by(Level.DEPLOYMENT, suggested, custom_roles.get(suggested)))
    found = []
    for name, permissions in custom_roles.items():
        held = granted_by(Level.DEPLOYMENT, name, permissions)
        smaller = name != own.role and held <= own.permissions and len(held) < size
        if smaller and fitting.covered_by(name, permissions):
            found.append((len(held), name))
    return min(found)[1] if found else None
