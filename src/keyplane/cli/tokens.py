"""What the ``organization|workspace|deployment token`` commands share.

Each scope's module declares its own options (which entity, which default role) and
calls these helpers, so the three groups behave and print alike.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from keyplane.cli import output, pick
from keyplane.cli.context import Session
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, field, ranges_text, roles_text, when
from keyplane.domain.words import with_article

Json = dict[str, Any]

TokenIdArg = Annotated[
    str | None, typer.Argument(help="The token's id.", show_default=False, metavar="TOKEN_ID")
]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="A name that says where it is used.")]
SelectNameOpt = Annotated[
    str | None,
    typer.Option("--name", "-t", help="Select the token by its name instead of its id."),
]
RenameOpt = Annotated[str | None, typer.Option("--new-name", "-n", help="New name.")]
DescriptionOpt = Annotated[str, typer.Option("--description", "-d", help="What the token is for.")]
NewDescriptionOpt = Annotated[
    str | None, typer.Option("--description", "-d", help="New description.")
]
ExpirationOpt = Annotated[
    int | None,
    typer.Option(
        "--expiration",
        "-e",
        min=0,
        max=3650,
        help="Days until the token expires (1-3650). 0 or absent: it never expires.",
    ),
]
ExpiringWithinOpt = Annotated[
    int | None,
    typer.Option(
        "--expiring-within",
        min=0,
        max=3650,
        metavar="DAYS",
        help="Only tokens still valid that expire within DAYS days.",
    ),
]
NewRoleOpt = Annotated[str | None, typer.Option("--role", "-r", help="Replace the token's role.")]
AllowedIpRangeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-ip-range",
        metavar="CIDR",
        help="Accept the token only from this IPv4 or IPv6 range (repeat for several), "
        "within the organization's allowedIpRanges. On update: replaces the list.",
        show_default=False,
    ),
]
ClearIpRangesOpt = Annotated[
    bool,
    typer.Option(
        "--clear-allowed-ip-ranges",
        help="Remove the token's own allowedIpRanges (the organization's still apply).",
    ),
]
DaysOpt = Annotated[
    int | None,
    typer.Option(
        "--days",
        min=1,
        max=365,
        metavar="DAYS",
        help="Count the uses of the last DAYS days (1-365; default 90).",
    ),
]

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("roles", roles_text),
    ("expires", when("endAt", "never")),
    ("last used", when("lastUsedAt")),
    ("created", when("createdAt")),
]
SCOPED_COLUMNS: list[Column] = [*COLUMNS[:2], ("scope", field("scope")), *COLUMNS[2:]]
DETAIL: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("description", field("description")),
    ("scope", field("scope")),
    ("short token", field("shortToken")),
    ("roles", roles_text),
    ("allowed ip ranges", ranges_text("allowedIpRanges", "the organization's")),
    ("expires", when("endAt", "never")),
    ("last used", when("lastUsedAt")),
    ("last rotated", when("lastRotatedAt")),
    ("created", when("createdAt")),
    ("created by", field("createdBy")),
]
COMMAND_OF_SCOPE = {
    "ORGANIZATION": "organization",
    "WORKSPACE": "workspace",
    "DEPLOYMENT": "deployment",
}


def create(
    session: Session,
    scope: str,
    entity_id: str | None,
    *,
    name: str,
    role: str,
    description: str,
    expiration: int | None,
    output_format: Format,
    clean: bool,
    allowed_ip_ranges: list[str] | None = None,
) -> None:
    token = session.client.create_token(
        session.org_id,
        name=name,
        scope=scope,
        role=role,
        entity_id=entity_id,
        description=description,
        expiry_days=expiration or None,  # Astro's 0 means "never expires"
        allowed_ip_ranges=allowed_ip_ranges or None,
    )
    show_new_value(token, output_format, clean)


def show_list(
    session: Session,
    output_format: Format,
    scope: str,
    expiring_within: int | None = None,
    **filters: str,
) -> None:
    """The tokens of ``scope``; with a workspace or deployment in ``filters``, every
    token holding a role there, whatever its scope, as the Astro CLI lists them (an
    Organization token given a role on a deployment is one of the deployment's)."""
    soon = f" expiring within {expiring_within} days" if expiring_within is not None else ""
    tokens = session.client.list_tokens(
        session.org_id,
        scope=None if filters else scope,
        expiring_within_days=expiring_within,
        **filters,
    )
    if filters:
        columns, empty = SCOPED_COLUMNS, f"no API tokens hold a role on this {scope.lower()}{soon}"
    else:
        columns, empty = COLUMNS, f"no {scope.lower()} API tokens{soon}"
    output.emit_list(tokens, output_format, columns, empty)


def select(
    session: Session, scope: str, token_id: str | None, name: str | None, **filters: str
) -> str:
    """The token's id: the argument, or the one token of this scope named ``--name``.

    Given both, the id decides, as in the Astro CLI, once the name is seen to be that
    token's: a stale name in a script must neither act on another token nor rename
    this one."""
    if token_id and name:
        current = fetch(session, scope, token_id)["name"]
        if current != name:
            raise UsageError(
                f"token {token_id} is named {current!r}, not {name!r}: --name selects a "
                "token by its current name; give the id alone",
                hint="to rename it, pass --new-name",
            )
        return token_id
    if token_id:
        return token_id
    if not name:
        raise UsageError("which token? give its id, or --name NAME")
    listed = session.client.list_tokens(
        session.org_id,
        scope=scope,
        workspace_id=filters.get("workspace_id"),
        deployment_id=filters.get("deployment_id"),
    )
    return str(pick.by_name(f"{scope.lower()} API token", name, listed, "--name")["id"])


def fetch(session: Session, scope: str, token_id: str) -> Json:
    """The token, refused if it is not of this command's scope (a typo must not hit another)."""
    token = session.client.get_token(session.org_id, token_id)
    if token["scope"] != scope:
        actual = COMMAND_OF_SCOPE[token["scope"]]
        raise UsageError(
            f"token {token_id} is {with_article(actual.capitalize())} token, not "
            f"{with_article(COMMAND_OF_SCOPE[scope].capitalize())} token",
            hint=f"use `keyplane {actual} token …`",
        )
    return token


def update(
    session: Session,
    scope: str,
    token_id: str | None,
    *,
    name: str | None,
    new_name: str | None,
    description: str | None,
    role: str | None,
    output_format: Format,
    allowed_ip_ranges: list[str] | None = None,
    clear_ip_ranges: bool = False,
    **filters: str,
) -> None:
    """``--name`` selects the token by its current name and ``--new-name`` renames it,
    as in the Astro CLI (:func:`select`: with an id as well, the name must be its)."""
    ranges = ip_ranges_change(allowed_ip_ranges, clear_ip_ranges)
    token_id = select(session, scope, token_id, name, **filters)
    name = new_name
    if name is None and description is None and role is None and ranges is None:
        raise UsageError(
            "nothing to update: pass --new-name, --description, --role, "
            "--allowed-ip-range or --clear-allowed-ip-ranges"
        )
    token = fetch(session, scope, token_id)
    if name is not None or description is not None or ranges is not None:
        token = session.client.update_token(
            session.org_id,
            token_id,
            name=name,
            description=description,
            allowed_ip_ranges=ranges,
        )
    if role is not None:
        token = set_role(session, token, scope, token["entityId"], role)
    output.emit_one(token, output_format, DETAIL)


def ip_ranges_change(ranges: list[str] | None, clear: bool) -> list[str] | None:
    """The new allowedIpRanges for an update: None leaves them, [] clears them."""
    if ranges and clear:
        raise UsageError("give --allowed-ip-range or --clear-allowed-ip-ranges, not both")
    return [] if clear else (ranges or None)


def set_role(session: Session, token: Json, level: str, entity_id: str, role: str) -> Json:
    """Give the token ``role`` on one entity, keeping its roles elsewhere."""
    roles = [
        {"entityType": r["entityType"], "entityId": r["entityId"], "role": r["role"]}
        for r in token["roles"]
        if (r["entityType"], r["entityId"]) != (level, entity_id)
    ]
    roles.append({"entityType": level, "entityId": entity_id, "role": role})
    return session.client.replace_token_roles(session.org_id, token["id"], roles)


def rotate(session: Session, scope: str, token_id: str, output_format: Format, clean: bool) -> None:
    fetch(session, scope, token_id)  # the id comes from select()
    show_new_value(session.client.rotate_token(session.org_id, token_id), output_format, clean)


def delete(session: Session, scope: str, token_id: str, output_format: Format) -> None:
    token = fetch(session, scope, token_id)
    session.client.delete_token(session.org_id, token_id)
    output.emit_done(
        output_format,
        {"id": token_id, "deleted": True},
        f"deleted API token {token['name']!r} ({token_id}): it stopped working at once",
    )


ADVICE: list[Column] = [
    ("token", field("credentialId")),
    ("current role", field("currentRole")),
    ("used", lambda a: ", ".join(a["usedPermissions"]) or "nothing"),
    ("suggested role", field("suggestedRole")),
    ("custom role", field("suggestedCustomRole")),
    ("stale", field("stale")),
    ("last used", when("lastUsedAt", "never")),
]


def advise(
    session: Session, scope: str, token_id: str, days: int | None, output_format: Format
) -> None:
    """The token's least-privilege advice, and the command that applies it."""
    token = fetch(session, scope, token_id)
    found = session.client.token_advice(session.org_id, token_id, days=days)
    output.emit_one(found, output_format, ADVICE)
    if output_format is Format.TABLE:
        output.note(advice_text(token, found))


def advice_text(token: Json, found: Json) -> str:
    """What to do about it, in words, with the command to run."""
    group = f"keyplane {COMMAND_OF_SCOPE[token['scope']]} token"
    days, name = found["days"], token["name"]
    if found["stale"]:
        return (
            f"{name!r} was not used in the last {days} days: if nothing needs it, delete it "
            f"with `{group} delete {token['id']}`"
        )
    role = found["suggestedCustomRole"] or found["suggestedRole"]
    if found["fits"]:
        return f"{name!r} fits: {found['currentRole']} is the least role that covers its use"
    return (
        f"suggested: {role} (it covers everything {name!r} used in the last {days} days); "
        f"apply it with `{group} update {token['id']} --role {role}`"
    )


def show_new_value(token: Json, output_format: Format, clean: bool) -> None:
    if clean:
        output.emit_value(token["token"])
        return
    output.emit_one(token, output_format, [*DETAIL, ("token", field("token"))])
    if output_format is Format.TABLE:
        output.warn("the token value is shown once: store it in your secret manager now")
