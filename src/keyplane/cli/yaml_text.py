"""JSON-shaped data as YAML, for ``--output yaml`` (no YAML library to install or import).

Only what JSON holds: objects, arrays, strings, numbers, booleans and null. A string
is written plain when YAML would read it back as the same string, else double-quoted
with JSON escapes (valid YAML), so ``yaml.safe_load(dump(x)) == x``.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Plain scalars YAML 1.1/1.2 would read as something other than a string.
_SPECIAL = re.compile(
    r"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON"
    r"|off|Off|OFF|y|Y|n|N|[-+]?(?:\.inf|\.Inf|\.INF)|\.nan|\.NaN|\.NAN"
    r"|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
    r"|0x[0-9a-fA-F_]+|0o[0-7_]+|[0-9]{4}-[0-9]{2}-[0-9]{2}.*)$"
)
_SAFE = re.compile(r"^[A-Za-z0-9_./@()$][A-Za-z0-9 _./@()$:,=+-]*$")


def dump(data: Any) -> str:
    """A YAML document for ``data``, ending with a newline."""
    return "\n".join(_lines(data, 0)) + "\n"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    plain = text and _SAFE.match(text) and not _SPECIAL.match(text)
    if plain and not text.endswith((" ", ":")) and ": " not in text and " #" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out: list[str] = []
        for key, item in value.items():
            name = _scalar(str(key))
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{name}:")
                out.extend(_lines(item, indent + 2))
            else:
                out.append(f"{pad}{name}: {_lines(item, 0)[0]}")
        return out
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            nested = _lines(item, indent + 2)
            out.append(f"{pad}- {nested[0].lstrip()}")
            out.extend(nested[1:])
        return out
    return [pad + _scalar(value)]
