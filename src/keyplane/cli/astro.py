"""What the Astro CLI's command lines allow, by cobra's rules, and click does not.

Aliases: ``astro deployment var ls`` is ``deployment variable list``.
:class:`keyplane.cli.apps.Group` applies them from the table here, and nothing else
knows of them.

The table is keyed by a group's path below ``keyplane`` ("" is the top level) and
holds Astro's own lists (``Aliases:`` in its cmd/cloud) for the commands keyplane
has. Aliases stay out of ``--help``.
"""

from __future__ import annotations

from typing import Any

Names = tuple[str, ...]
LS: Names = ("ls",)
UP: Names = ("up",)
TO: Names = ("to",)
USER: Names = ("us", "users")
CRUD: dict[str, Names] = {"list": LS, "create": ("cr",), "update": UP, "delete": ("de",)}
TOKEN: dict[str, Names] = {**CRUD, "rotate": ("ro",)}

ALIASES: dict[str, dict[str, Names]] = {
    "": {"organization": ("org",), "workspace": ("wo",), "deployment": ("de", "deployments")},
    "organization": {"list": LS, "user": USER, "token": TO},
    "organization user": {"invite": ("inv",), "list": LS, "update": UP},
    "organization token": TOKEN,
    "workspace": {**CRUD, "user": USER, "token": TO},
    "workspace user": {"list": LS, "update": UP, "remove": ("rm",)},
    "workspace token": TOKEN,
    "deployment": {**CRUD, "inspect": ("in",), "variable": ("var", "variables"), "token": TO},
    "deployment token": TOKEN,
}


def path(ctx: Any) -> str:
    """The group's names below the top level, e.g. ``deployment token``."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names))


def canonical(ctx: Any, args: list[str]) -> list[str]:
    """``args`` with an alias of one of this group's commands as the command's name."""
    for name, aliases in ALIASES.get(path(ctx), {}).items():
        if args and args[0] in aliases:
            return [name, *args[1:]]
    return args
