"""JSON-shaped data as YAML, for ``--output yaml`` (no YAML library to install or import).

Only what JSON holds: objects, arrays, strings, numbers, booleans and null. A string
is written plain only when YAML 1.1 (PyYAML) and 1.2 alike read it back as the same
string, else double-quoted with JSON's escapes and ``\\u`` for what YAML may not hold
raw, so ``yaml.safe_load(dump(x)) == x``.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Words YAML 1.1 (PyYAML's reading) or 1.2 takes for a boolean or null when plain.
_WORDS = frozenset({
    "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
    "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    "y", "Y", "n", "N",
})  # fmt: skip
# A plain scalar begins with a letter, "_", "/", "$" or "(": never an indicator
# (-?:,[]{}#&*!|>'"%@`), a space, a digit, a sign or a dot, so no version of YAML reads
# it as a number, a date, a time, .inf/.nan, ~, << or =. Then only characters YAML gives
# no meaning inside a plain scalar; ":" too, but not ``: ``, a final ":" or a final space.
_PLAIN = re.compile(r"[A-Za-z_/$(][A-Za-z0-9 _./@()$:,=+-]*")
# What a double-quoted scalar must escape besides JSON's escapes: characters a YAML
# stream may not hold (DEL, C1 controls, surrogates, U+FFFE, U+FFFF), the BOM, and
# YAML's own line breaks (NEL, LS, PS), which it would fold into a space.
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
# PyYAML refuses an implicit key longer than this; a longer one is written as ``? key``.
_LONGEST_KEY = 1024


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
    plain = _PLAIN.fullmatch(text) and text not in _WORDS and ": " not in text
    if plain and not text.endswith((" ", ":")):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", quoted)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out: list[str] = []
        for key, item in value.items():
            name = _scalar(str(key))
            if len(name) > _LONGEST_KEY:
                out.append(f"{pad}? {name}")
                name = ""
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
