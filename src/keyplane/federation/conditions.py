"""A workload identity's conditions: which ID-token claims it requires, and how they match.

Conditions map a claim name to an allowed string or a list of them. ``*`` in a value
matches any run of characters (``refs/heads/release-*``), except in the claims that
name something by number (``repository_id``, ``project_id``, any ``*_id``), which
must match exactly. Values are compared as strings; a claim that is absent, or is
neither a string nor a number, matches nothing. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from keyplane.domain.errors import InvalidInput

GITHUB = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
# Claims that name the repository by number. A name can be registered again after a
# delete or a rename (by someone else); a number cannot, so these issuers need one.
GITHUB_PINS = ("repository_id", "repository_owner_id")
PINS: dict[str, tuple[str, ...]] = {GITHUB: GITHUB_PINS, GITLAB: ("project_id", "namespace_id")}
# GitHub events that may run a fork's code with the base repository's identity.
RISKY_EVENTS = ("pull_request_target", "workflow_run")
# Checked by the exchange itself, never by a condition.
RESERVED = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti"})
CLAIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
MAX_CONDITIONS = 32
MAX_VALUES = 50
MAX_VALUE_LENGTH = 256

Conditions = dict[str, str | list[str]]


def _invalid(claim: str, why: str) -> InvalidInput:
    return InvalidInput(f"condition {claim}: {why}", field_errors={"conditions": why})


def validate(conditions: Mapping[str, Any], issuer: str) -> Conditions:
    """The conditions, checked; InvalidInput naming the first problem.

    At least one condition is required (else any job of the issuer would do), and for
    GitHub and GitLab one that pins the repository or its owner by number.
    """
    if not conditions:
        raise InvalidInput(
            "conditions: at least one is required, or any job of the issuer could exchange",
            field_errors={"conditions": "required"},
        )
    if len(conditions) > MAX_CONDITIONS:
        raise _invalid("*", f"at most {MAX_CONDITIONS} conditions")
    checked: Conditions = {}
    for claim, value in conditions.items():
        checked[claim] = _checked(claim, value)
    pins = pins_for(issuer)
    if pins and not any(pin in checked for pin in pins):
        raise InvalidInput(
            f"conditions: an identity for {issuer} must pin {' or '.join(pins)} (a number: "
            "a repository name can be registered again after it is deleted)",
            field_errors={"conditions": f"{' or '.join(pins)} is required"},
        )
    for pin in pins:
        if pin in checked and not all(v.isascii() and v.isdigit() for v in allowed(checked, pin)):
            raise _invalid(pin, "must be a number (or a list of numbers)")
    return checked


def pins_for(issuer: str) -> tuple[str, ...]:
    """The claims of which an identity for ``issuer`` must pin one. GitHub's issuer
    for an enterprise (``…githubusercontent.com/<slug>``) and GitHub Enterprise
    Server's (``https://<host>/_services/token``) mint the same claims as github.com's."""
    if issuer.startswith(GITHUB + "/") or issuer.endswith("/_services/token"):
        return GITHUB_PINS
    return PINS.get(issuer, ())


def _checked(claim: str, value: Any) -> str | list[str]:
    if not CLAIM_NAME.fullmatch(claim):
        raise _invalid(claim[:64], "not a claim name")
    if claim in RESERVED:
        raise _invalid(claim, "is checked by the exchange itself; it cannot be a condition")
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > MAX_VALUES:
        raise _invalid(claim, f"give one value or a list of 1 to {MAX_VALUES}")
    for item in values:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_VALUE_LENGTH:
            raise _invalid(claim, f"values are strings of 1 to {MAX_VALUE_LENGTH} characters")
        if "*" in item and claim.endswith("_id"):
            raise _invalid(claim, "an id must match exactly: no * here")
    return list(values) if isinstance(value, list) else value


def allowed(conditions: Conditions, claim: str) -> list[str]:
    value = conditions[claim]
    return value if isinstance(value, list) else [value]


def claim_text(value: Any) -> str | None:
    """A claim's value as conditions compare it; None for what no condition matches."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def matches(pattern: str, value: str) -> bool:
    """Whether ``value`` is ``pattern`` with each ``*`` standing for any run of
    characters. The pieces between stars are each searched for once, left to right,
    taking the earliest place that fits (always safe when ``*`` is the only wildcard):
    no backtracking, so no pattern a tenant writes can make a match slow (a regular
    expression of sixteen stars took seconds, on the event loop)."""
    if "*" not in pattern:
        return pattern == value
    first, *middle, last = pattern.split("*")
    end = len(value) - len(last)
    if end < len(first) or not value.startswith(first) or not value.endswith(last):
        return False
    at = len(first)
    for piece in middle:
        found = value.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def first_failed(conditions: Conditions, claims: Mapping[str, Any]) -> str | None:
    """The first claim (in the identity's order) whose value meets no allowed value."""
    for claim in conditions:
        value = claim_text(claims.get(claim))
        if value is None or not any(matches(p, value) for p in allowed(conditions, claim)):
            return claim
    return None


def risky_event(conditions: Conditions, claims: Mapping[str, Any]) -> str | None:
    """A risky event the token comes from that the identity does not name literally."""
    event = claims.get("event_name")
    named = allowed(conditions, "event_name") if "event_name" in conditions else []
    for one in event if isinstance(event, list) else [event]:  # another issuer may list
        if one in RISKY_EVENTS and one not in named:
            return str(one)
    return None
