"""What the Astro CLI's command lines allow, by cobra's rules, and click does not.

Aliases: ``astro deployment var ls`` is ``deployment variable list``. Persistent flags:
an option a group declares for every command below it may come before the
subcommand, ``astro deployment token --deployment-id D create``; the root's
``--verbosity LEVEL`` may come anywhere. :class:`keyplane.cli.apps.Group` applies both
from the tables here, and nothing else knows of them.

The tables are keyed by a group's path below ``keyplane`` ("" is the top level) and
hold Astro's own lists (``Aliases:`` and ``PersistentFlags()`` in its cmd/cloud and
cmd/root.go) for the commands keyplane has. Aliases stay out of ``--help``.
"""

from __future__ import annotations

from typing import Any

from keyplane.cli.errors import UsageError

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

VERBOSITY = "--verbosity"
PERSISTENT: dict[str, Names] = {
    "": (VERBOSITY,),
    "deployment": ("--workspace-id",),
    "deployment token": ("--deployment-id",),
    "organization token": ("--organization-id",),
    "workspace token": ("--workspace-id",),
    "workspace user": ("--workspace-id",),
}
# Astro's log levels (logrus). keyplane logs nothing on the client side to tune, so a
# level is checked, as Astro does, and changes nothing.
LEVELS = ("panic", "fatal", "error", "warn", "warning", "info", "debug", "trace")
GIVEN = "keyplane.persistent"  # in ctx.meta, shared down the chain: (option, value) pairs


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


def take(ctx: Any, args: list[str]) -> list[str]:
    """``args`` without the persistent options written before the subcommand's name
    (this group's and its parents'), which are kept in ``ctx.meta`` for the command."""
    here = path(ctx)
    known = {
        option
        for group, options in PERSISTENT.items()
        if group == "" or f"{here} ".startswith(f"{group} ")
        for option in options
    }
    given: list[tuple[str, str]] = ctx.meta.setdefault(GIVEN, [])
    kept, at = [], 0
    while at < len(args) and args[at].startswith("-") and args[at] != "--":
        name, sep, value = args[at].partition("=")
        if name not in known:
            kept.append(args[at])
            at += 1
            continue
        if not sep:
            if at + 1 == len(args):
                raise UsageError(f"{name} needs a value")
            at, value = at + 1, args[at + 1]
        given.append((name, _checked(name, value)))
        at += 1
    return [*kept, *args[at:]]


def give(ctx: Any, name: str | None, command: Any, args: list[str]) -> list[str]:
    """The command's ``args`` with the persistent options given above it put first;
    ``--verbosity`` dropped wherever it is. An option the command does not take, or one
    given again after it with another value, is a usage error."""
    args = list(args)
    for start, end, value in reversed(options_in(command, args, {VERBOSITY})):
        _checked(VERBOSITY, value)
        del args[start:end]
    for option, value in ctx.meta.get(GIVEN, []):
        if option == VERBOSITY:
            continue
        own = next((p for p in _options(command) if option in p.opts), None)
        if own is None:
            raise UsageError(f"`{ctx.command_path} {name}` takes no {option}")
        written = [v for _, _, v in options_in(command, args, set(own.opts))]
        again = [v for v in written if v is not None and v != value]
        if again:
            raise UsageError(
                f"{option} is given twice, {value!r} before `{name}` and {again[0]!r} "
                "after it: give it once"
            )
        args = [option, value, *args]
    return args


def _checked(option: str, value: str | None) -> str:
    if value is None:
        raise UsageError(f"{option} needs a value")
    if option == VERBOSITY and value.lower() not in LEVELS:
        raise UsageError(f"--verbosity {value!r}: give one of {', '.join(LEVELS)}")
    return value


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option"]


def options_in(command: Any, args: list[str], names: set[str]) -> list[tuple[int, int, str | None]]:
    """Where ``args`` hold one of the options ``names``: (start, end, value) each, read
    with the command's own options, so that a value which looks like one is skipped."""
    takes_value = {o for p in _options(command) if not (p.is_flag or p.count) for o in p.opts}
    found: list[tuple[int, int, str | None]] = []
    at = 0
    while at < len(args) and args[at] != "--":
        name, sep, value = args[at].partition("=")
        if name in names:
            given = value if sep else (args[at + 1] if at + 1 < len(args) else None)
            end = at + 1 if sep or given is None else at + 2
            found.append((at, end, given))
            at = end
        else:
            at += 2 if args[at] in takes_value else 1
    return found
