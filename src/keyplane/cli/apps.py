"""How every command group is made, so that they all start and print help alike."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from keyplane.cli import astro

# Options whose value may be left out: (the value then, the values it may have).
# Astro writes `--cicd-enforcement enable|disable`; keyplane's older form is the bare flag.
OPTIONAL_VALUES = {"--cicd-enforcement": ("enable", ("enable", "disable"))}


def astro_shorthands(command: Any, args: list[str]) -> list[str]:
    """Astro's ``--json`` as ``--output json``, the options of OPTIONAL_VALUES, and a
    boolean flag written with a value, as cobra allows (``--clean-output=true``)."""
    names = {p.name for p in command.params}
    if "--json" in args and "output_format" in names:
        at = args.index("--json")
        args = [*args[:at], "--output", "json", *args[at + 1 :]]
    flags = {opt for p in command.params if getattr(p, "is_flag", False) for opt in p.opts}
    # Only a ``--flag=false`` goes; an empty value (``-d ""``) is a value like any other.
    args = [kept for arg in args if (kept := _flag_with_value(arg, flags)) is not None]
    for option, (implied, values) in OPTIONAL_VALUES.items():
        if option in args:
            at = args.index(option)
            if at + 1 == len(args) or args[at + 1] not in values:
                args = [*args[: at + 1], implied, *args[at + 1 :]]
    return args


def _flag_with_value(arg: str, flags: set[str]) -> str | None:
    """``--flag=true`` as ``--flag``, ``--flag=false`` as nothing (None); else ``arg``."""
    name, sep, value = arg.partition("=")
    if not sep or name not in flags or value.strip().lower() not in TRUE | FALSE:
        return arg
    return name if value.strip().lower() in TRUE else None


class Group(TyperGroup):
    """A group that reads Astro's command lines: its aliases and persistent flags
    (:mod:`keyplane.cli.astro`), and its shorthands (:func:`astro_shorthands`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        rest: list[str] = super().parse_args(ctx, astro.take(ctx, args))
        return rest

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, astro.canonical(ctx, args))
        if command is None or isinstance(command, TyperGroup):
            return name, command, rest
        return name, command, astro.give(ctx, name, command, astro_shorthands(command, rest))


def group(help: str, **options: Any) -> typer.Typer:
    """A command group with plain help.

    Rich's help renderer costs about 100 ms of imports on every ``--help``; plain help
    reads the same in a CI log.
    """
    options.setdefault("no_args_is_help", True)
    options.setdefault("cls", Group)
    return typer.Typer(help=help, rich_markup_mode=None, **options)


def lighten() -> None:
    """Convert plain option values (str, list[str], bool, int, enum, Path) without pydantic.

    Typer converts every value through a pydantic TypeAdapter, whose imports cost
    about 80 ms on each start, more than the rest of ``keyplane whoami``. This puts a
    converter with the same checks (choices, ranges, path rules) in Typer's
    per-parameter converter slot first; any other type keeps Typer's own. It reaches
    into Typer internals, hence the version bound in pyproject.toml; if they move,
    nothing breaks, the CLI only starts slower (a test says so).
    """
    try:
        from typer._coercion import RuntimeParam
        from typer.core import _TyperParameter
    except ImportError:  # pragma: no cover - another Typer: keep its converters
        return
    if getattr(_TyperParameter, "_keyplane_light", False):
        return
    light = _light_class(RuntimeParam)
    typers_own = _TyperParameter.get_runtime_param

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            info = descriptor.parameter_info
            convert = _converter(descriptor.annotation, info)
            if convert is not None:
                self._runtime_param = light(
                    parameter_info=info, annotation=descriptor.annotation, convert=convert
                )
        return typers_own(self)

    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]
    _TyperParameter._keyplane_light = True  # type: ignore[attr-defined]


def _converter(annotation: Any, info: Any) -> Any:
    from enum import Enum
    from pathlib import Path

    from typer._param_types import coerce_cli_choice, coerce_cli_path

    if annotation is str:
        return str
    if annotation == list[str]:  # a repeatable option: Click hands over a tuple
        return lambda values: [str(value) for value in values]
    if annotation is bool:
        return _boolean
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = tuple(annotation)
        return lambda value: coerce_cli_choice(
            value, choices=choices, case_sensitive=info.case_sensitive
        )
    if annotation is int and not info.clamp:
        return lambda value: _in_range(int(value), info.min, info.max)
    if annotation is Path:
        return lambda value: coerce_cli_path(Path(value), info, path_type=Path)
    return None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise ValueError(f"{value!r} is not a valid boolean.")


TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE = frozenset({"0", "false", "f", "no", "n", "off", ""})


def _in_range(value: int, low: int | None, high: int | None) -> int:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{'' if low is None else f'{low}<='}x{'' if high is None else f'<={high}'}"
        raise ValueError(f"{value} is not in the range {bounds}.")
    return value


_LIGHT: dict[str, Any] = {}


def _light_class(base: Any) -> Any:
    if "class" not in _LIGHT:
        from dataclasses import dataclass

        from typer._click.exceptions import BadParameter

        @dataclass(frozen=True)
        class Light(base):  # type: ignore[misc]
            convert: Any

            def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
                try:
                    return self.convert(value)
                except ValueError as error:
                    raise BadParameter(str(error), ctx=ctx, param=param) from None

        _LIGHT["class"] = Light
    return _LIGHT["class"]
