"""What the audit trail keeps of a new API token: how it was made, never its value."""

from __future__ import annotations

from typing import Any

from keyplane.db.models import ApiToken


def created(token: ApiToken, role: str) -> dict[str, Any]:
    """The details of ``token.create`` (as ``keyplane admin token create`` records them):
    its name, scope and entity, its role, and its expiry and address limits if any."""
    details: dict[str, Any] = {
        "name": token.name,
        "scope": token.scope,
        "entityId": token.deployment_id or token.workspace_id or token.organization_id,
        "role": role,
    }
    if token.expiry_period_days is not None:
        details["expiryPeriodInDays"] = token.expiry_period_days
    if token.allowed_ip_ranges:
        details["allowedIpRanges"] = list(token.allowed_ip_ranges)
    return details
