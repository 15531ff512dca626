"""Authorization is decided in one place (DESIGN §2, STYLE habit 2).

Outside ``keyplane.domain`` no module spells a built-in role's name as a string (it
uses :class:`keyplane.domain.roles.Role`) or asks a principal's grants directly (it
calls ``authorize`` or ``can``). Both are read from the source, so a new module is
checked as soon as it exists.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from keyplane.domain.roles import Role

SRC = Path(__file__).resolve().parents[2] / "src" / "keyplane"
# Packages the scan skips for now: none (keyplane.cli joined once its role names
# came from keyplane.domain.roles).
NOT_YET: tuple[str, ...] = ()
ROLE_NAME = re.compile(r"\b(" + "|".join(sorted(Role, key=len, reverse=True)) + r")\b")
QUOTED_ROLE = re.compile(r"""(["'])(""" + "|".join(Role) + r")\1")
# Grants' own questions, which only keyplane.domain.access asks.
GRANTS_QUESTIONS = {"permissions_at", "sees"}


def modules(suffix: str) -> Iterator[Path]:
    for path in sorted(SRC.rglob(f"*{suffix}")):
        parts = path.relative_to(SRC).parts
        if parts[0] != "domain" and parts[0] not in NOT_YET and "migrations" not in parts:
            yield path


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the constants that are docstrings: they may name roles in prose."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def role_literals(path: Path, root: Path = SRC) -> list[str]:
    tree = ast.parse(path.read_text())
    prose = docstrings(tree)
    return [
        f"{path.relative_to(root)}:{node.lineno}: {match.group(0)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
        for match in [ROLE_NAME.search(node.value)]
        if match
    ]


def test_no_role_is_spelled_as_a_string_outside_the_domain():
    found = [hit for path in modules(".py") for hit in role_literals(path)]
    found += [
        f"{path.relative_to(SRC)}:{n}: {match.group(2)}"
        for path in modules(".html")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for match in QUOTED_ROLE.finditer(line)
    ]
    assert not found, (
        "role names written as strings; use keyplane.domain.roles.Role instead:\n"
        + "\n".join(found)
    )


def test_only_the_domain_asks_grants_what_they_hold():
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}: .{node.attr}"
        for path in modules(".py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in GRANTS_QUESTIONS
    ]
    assert not found, (
        "authorization outside keyplane.domain.access; call authorize() or can():\n"
        + "\n".join(found)
    )


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The scan itself: a literal in code is found, the same name in a docstring is not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        f'"""Acts as {Role.DEPLOYMENT_ADMIN}."""\nOWNER = "{Role.ORGANIZATION_OWNER}"\n'
        f'message = f"add --role {Role.WORKSPACE_MEMBER} to {{x}}"\n'
    )
    hits = role_literals(sample, tmp_path)
    assert [hit.split(": ")[1] for hit in hits] == ["ORGANIZATION_OWNER", "WORKSPACE_MEMBER"]
