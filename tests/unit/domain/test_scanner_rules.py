"""The README's rules for secret scanners agree with the token format they describe."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from keyplane.domain import credentials
from keyplane.domain.credentials import SecretKind
from keyplane.domain.errors import NotAuthenticated

README = (Path(__file__).parents[3] / "README.md").read_text()


def block(language: str, containing: str) -> str:
    for found in re.findall(rf"```{language}\n(.*?)```", README, re.S):
        if containing in found:
            return str(found)
    raise AssertionError(f"no {language} block with {containing!r} in the README")


def samples() -> list[str]:
    values = [credentials.generate(kind) for kind in SecretKind for _ in range(50)]
    altered = [v[:-1] + ("A" if v[-1] != "A" else "B") for v in values[::10]]
    return values + altered + ["kpx_" + values[0][4:], values[0][:-2], "kpo_short"]


def is_valid(value: str) -> bool:
    try:
        credentials.parse(value)
    except NotAuthenticated:
        return False
    return True


def test_the_gitleaks_rule_finds_every_kind_in_text():
    [rule] = tomllib.loads(block("toml", "keyplane-credential"))["rules"]
    pattern = re.compile(rule["regex"])
    for kind in SecretKind:
        value = credentials.generate(kind)
        found = pattern.search(f"export ASTRO_API_TOKEN={value}\n")
        assert found and found.group(rule["secretGroup"]) == value
        assert any(keyword in value for keyword in rule["keywords"])
    assert pattern.search("kpw_" + "a" * 48) is None  # one character short


def test_the_checksum_rule_agrees_with_the_format():
    scope: dict[str, object] = {}
    exec(block("python", "def is_keyplane_value"), scope)  # the README's own snippet
    check = scope["is_keyplane_value"]
    for value in samples():
        assert check(value) is is_valid(value), value  # type: ignore[operator]
