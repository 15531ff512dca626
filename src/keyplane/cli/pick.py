"""Choosing one object by id or, as the Astro CLI allows, by name.

A name selects only when exactly one object has it: none is "not found" (exit 5),
several is a usage error (exit 2) that lists them, so that a script never acts on
a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keyplane.cli import errors

if TYPE_CHECKING:
    from keyplane.cli.context import Session

Json = dict[str, Any]


def by_name(noun: str, name: str, items: list[Json], flag: str) -> Json:
    """The one item whose ``name`` is ``name``."""
    found = [item for item in items if item.get("name") == name]
    if not found:
        raise errors.NotFound(f"no {noun} named {name!r}", hint=f"check the name given to {flag}")
    if len(found) > 1:
        listed = ", ".join(f"{item['id']} (created {item.get('createdAt', '?')})" for item in found)
        raise errors.UsageError(
            f"{len(found)} {noun}s are named {name!r}: {listed}",
            hint=f"pass the id instead of {flag}",
        )
    return found[0]


def one_id(
    noun: str,
    *,
    positional: str | None,
    option: str | None,
    name: str | None,
    option_flag: str,
    name_flag: str,
    listing: Callable[[], list[Json]],
    default: Callable[[], str] | None = None,
) -> str:
    """The id given as an argument, an option or a name (exactly one), else ``default``."""
    given = [value for value in (positional, option, name) if value]
    if len(given) > 1 and not (positional and option and positional == option):
        raise errors.UsageError(
            f"give the {noun} once: its id as an argument, {option_flag}, or {name_flag}"
        )
    if positional or option:
        return str(positional or option)
    if name:
        return str(by_name(noun, name, listing(), name_flag)["id"])
    if default is not None:
        return default()
    raise errors.UsageError(f"which {noun}? give its id, {option_flag} ID, or {name_flag} NAME")


def deployment(
    session: Session,
    positional: str | None,
    option: str | None,
    name: str | None,
    workspace_id: str | None = None,
    *,
    fallback: bool = True,
    how: str = "pass --deployment-id",
) -> str:
    """The deployment to act on: an id argument, --deployment-id or --deployment-name;
    else, with ``fallback``, a Deployment token's own (without it: a usage error; ``how``
    says in its message how to name one)."""
    return one_id(
        "deployment",
        positional=positional,
        option=option,
        name=name,
        option_flag="--deployment-id",
        name_flag="--deployment-name",
        listing=lambda: session.client.list_deployments(session.org_id, workspace_id),
        default=(lambda: session.deployment_id(None, how)) if fallback else None,
    )
